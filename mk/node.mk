# A node for the local cluster and the project's images, built without Docker (included by the Makefile).
#   make node-packages        Debian's containerd, runc, containernetworking-plugins, mmdebstrap (once)
#   make node-build           kubelet + kube-scheduler from the control plane's Go modules (cached)
#   make images               operator, model-service and pause OCI archives (cached by content hash
#                             under $(SLO_CACHE)/images); `make reports-image` for the report CronJob
#   make operator-image | reports-image | model-image    one archive; its path is printed
#   make image-locks          re-resolve the lock files both the images and the Dockerfiles install

# Archives load with `ctr -n k8s.io images import`, `kind load image-archive` or `docker load`.
IMAGES_BUILD := hack/images/build.py
IMAGES_PYTHON = PYTHON=$(abspath $(PY))
NODE_PACKAGES := containerd runc containernetworking-plugins mmdebstrap

.PHONY: node-packages node-build images operator-image reports-image model-image pause-image image-locks

node-packages: ## containerd, runc, CNI plugins, mmdebstrap (Debian packages, installed once)
	@if ! command -v containerd >/dev/null || ! command -v runc >/dev/null || ! command -v mmdebstrap >/dev/null \
	  || ! test -x /usr/lib/cni/loopback; then \
	  echo "installing Debian packages $(NODE_PACKAGES)"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $(NODE_PACKAGES) >/dev/null; \
	fi

node-build: ## kubelet + kube-scheduler (same Go modules as the control plane; cached)
	@hack/progress.sh "kubelet + kube-scheduler v1.32.4" "15 min (3 min after the control plane)" hack/cluster/build.sh --node

operator-image: venv node-packages ## OCI archive of the operator (no Docker)
	@$(IMAGES_PYTHON) $(IMAGES_BUILD) operator

reports-image: venv node-packages ## OCI archive of the monthly report job (operator + matplotlib/reportlab)
	@$(IMAGES_PYTHON) $(IMAGES_BUILD) reports

model-image: venv node-packages ## OCI archive of the model service, model trained at build time
	@$(IMAGES_PYTHON) $(IMAGES_BUILD) model

pause-image: ## OCI archive of the node's sandbox (pause) image
	@$(IMAGES_BUILD) pause

images: operator-image model-image pause-image ## The images the node tests and `make cluster-up NODE=1` load

image-locks: venv ## Re-resolve operator/requirements*.lock and model_service/requirements.lock
	for image in operator reports model; do $(IMAGES_PYTHON) $(IMAGES_BUILD) --lock $$image || exit 1; done


# The node and image tests use cached builds: made before pytest starts (never inside a test's timeout).
test: node-packages node-build images
