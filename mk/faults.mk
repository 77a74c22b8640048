# API server faults on the real control plane (included by the top-level Makefile).
#   make faults-test   pytest tests/ha/test_apiserver_restart.py alone: the operator with 30 SLOs while
#                      kube-apiserver restarts, on a control plane of its own (about 2-3 min; `make test`
#                      runs it too, in the lane beside tests/rules)
#   The 1,000-SLO version: .venv/bin/python bench/scale_bench.py --restart-apiserver (see its --help)

.PHONY: faults-test

faults-test: venv cluster-build ## pytest tests/ha/test_apiserver_restart.py (kube-apiserver restarted under 30 SLOs)
	$(BIN)/pytest -q -s tests/ha/test_apiserver_restart.py
