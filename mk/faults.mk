# API server faults on the real control plane (included by the top-level Makefile).
#   make faults-test   pytest tests/ha/test_apiserver_restart.py: the operator with 30 SLOs while
#                      kube-apiserver restarts (about 90 s; not part of `make test`, which must stay short)
#   The 1,000-SLO version: .venv/bin/python bench/scale_bench.py --restart-apiserver (see its --help)

.PHONY: faults-test

faults-test: venv cluster-build ## pytest tests/ha/test_apiserver_restart.py (kube-apiserver restarted under 30 SLOs)
	SLO_FAULTS_TEST=1 $(BIN)/pytest -q -s tests/ha/test_apiserver_restart.py
