# Model service targets (included by the top-level Makefile via `include mk/*.mk`).
# Every variable here is prefixed MODEL_ to stay out of other fragments' way.
#
#   make model                  train the classifier (joblib + metadata.json) into $(MODEL_DIR)
#   make model-serve            train if missing, then `bentoml serve` on 127.0.0.1:$(MODEL_PORT)
#   make model-serve MODEL_ADMIN=true   ... with the fault-injection admin API on
#   make model-traffic MODEL_TRAFFIC_ARGS="--rate 20 --duration 60 --label-noise 0.1"
#   make model-test             pytest tests/model_service (starts bentoml serve and prometheus)
#   make model-bench            bench/model_service_bench.py
#   make model-image            OCI archive without Docker (mk/node.mk); with Docker:
#                               docker build -f model_service/Dockerfile -t slo-operator/model-service:0.1.0 .

MODEL_VENV ?= .venv
MODEL_PYTHON ?= $(MODEL_VENV)/bin/python
MODEL_BENTOML ?= $(MODEL_VENV)/bin/bentoml
MODEL_PORT ?= 3000
MODEL_HOST ?= 127.0.0.1
MODEL_ADMIN ?= false
MODEL_IMAGE ?= slo-operator/model-service:0.1.0
MODEL_TRAFFIC_ARGS ?= --rate 10 --duration 60 --feedback-delay 5
MODEL_BENCH_ARGS ?=
# Empty: the code's default ($$XDG_CACHE_HOME or ~/.cache)/slo-operator/model-service.
MODEL_DIR ?=

MODEL_ENV := BENTOML_DO_NOT_TRACK=true $(if $(MODEL_DIR),MODEL_DIR=$(MODEL_DIR))
MODEL_DIR_ARG := $(if $(MODEL_DIR),--model-dir $(MODEL_DIR))

.PHONY: model model-serve model-traffic model-test model-bench

model: ## Train the classifier into MODEL_DIR (default ~/.cache/slo-operator/model-service)
	$(MODEL_ENV) $(MODEL_PYTHON) -m model_service.training $(MODEL_DIR_ARG)

model-serve: ## bentoml serve the model service on 127.0.0.1:3000 (MODEL_PORT; MODEL_ADMIN=true: faults)
	$(MODEL_ENV) $(MODEL_PYTHON) -m model_service.training --if-missing $(MODEL_DIR_ARG)
	$(MODEL_ENV) MODEL_SERVICE_ADMIN_ENABLED=$(MODEL_ADMIN) \
		$(MODEL_BENTOML) serve model_service.service:ModelService --host $(MODEL_HOST) --port $(MODEL_PORT)

model-traffic: ## Load generator against the local service (MODEL_TRAFFIC_ARGS=...)
	$(MODEL_ENV) $(MODEL_PYTHON) -m model_service.traffic load --url http://127.0.0.1:$(MODEL_PORT) $(MODEL_TRAFFIC_ARGS)

model-test: ## pytest tests/model_service (real bentoml serve + prometheus)
	BENTOML_DO_NOT_TRACK=true $(MODEL_PYTHON) -m pytest tests/model_service -q

model-bench: ## Latency/throughput benchmark, SLI tracking on vs off
	BENTOML_DO_NOT_TRACK=true $(MODEL_PYTHON) bench/model_service_bench.py $(MODEL_BENCH_ARGS)
