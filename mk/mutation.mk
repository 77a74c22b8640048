# Mutation testing of the pure core (not part of `make test`: it takes an hour or more on two busy cores).
#   make mutation                         every module of hack/mutation.py, one at a time, niced
#   make mutation MODULES="budget.py rules.py"   some of them (names under operator/slo_operator/)
# Results: .mutation/report.md (kill rate per module, each surviving mutant with its diff), results.json.
.PHONY: mutation

MUTATION_STAMP := $(VENV)/.mutation-$(PYPROJECT_HASH)

$(MUTATION_STAMP): $(VENV_STAMP)
	$(BIN)/pip install -q -e '.[mutation]'
	@rm -f $(VENV)/.mutation-*; touch $@

mutation: venv $(MUTATION_STAMP) ## Mutation testing of the pure core with mutmut (slow; report in .mutation/)
	$(PY) hack/mutation.py $(MODULES)
