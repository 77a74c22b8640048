# The development loop (included by the top-level Makefile):
#   make check       lint + types + the pure test tier (tests/conftest.py PURE_TESTS): under a minute
#   make generate    regenerate every generated file, in dependency order (idempotent)
#   make goldens     rewrite the golden files only (tests/golden, routing and dashboard goldens)
# Every target says what it needs: the prerequisite lines below add the venv, Debian tools and the
# cached Go builds (with progress output) to targets defined in other files.

# Test files whose goldens `make goldens` rewrites (each compares against its files unless UPDATE_GOLDEN=1).
GOLDEN_TESTS := tests/core/test_golden.py tests/golden/test_golden_cases.py \
	tests/dashboards/test_dashboard_json.py tests/routing/test_routing_render.py

.PHONY: check pure generate goldens

check: lint typecheck pure ## Fast loop: ruff, mypy and the pure tests (no processes, no servers)

pure: venv ## pytest -m pure only (the fast tier of `make check`)
	$(BIN)/pytest -q -m pure -p no:cacheprovider

generate: venv helm ## Regenerate CRDs, dashboards, chart files, install manifests and goldens, in that order
	@start=$$SECONDS; \
	for target in crds dashboards chart-files install-manifests goldens; do \
	  echo "[generate] $$target" >&2; \
	  $(MAKE) --no-print-directory $$target || exit 1; \
	done; \
	echo "[generate] done in $$((SECONDS - start))s; review with git status / git diff" >&2

goldens: venv ## Rewrite every golden file from the current code (review the diff, then commit)
	UPDATE_GOLDEN=1 $(BIN)/pytest -q -p no:cacheprovider $(GOLDEN_TESTS) >/dev/null
	$(BIN)/pytest -q -p no:cacheprovider $(GOLDEN_TESTS)

# What each target needs, added to targets defined elsewhere (make merges prerequisite lines).
model model-serve model-traffic model-test model-bench: venv
model-test: tools
test unit: cluster-build helm
demo: cluster-build
