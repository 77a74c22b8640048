# Local, container-free Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager),
# built from pinned Go modules into $(SLO_CACHE) (default ~/.cache/slo-operator).
#   make cluster-build               build/cache the binaries and prometheus-operator CRDs
#   make cluster-up                  start (or check) the cluster; kubeconfig: $(CLUSTER_STATE_DIR)/kubeconfig
#   make cluster-down                stop it, keep its data
#   make cluster-down PURGE=1        stop it and remove $(CLUSTER_STATE_DIR)
CLUSTER_STATE_DIR ?= $(CURDIR)/.cluster

.PHONY: cluster-build cluster-up cluster-down

cluster-build:
	hack/cluster/build.sh

cluster-up:
	hack/cluster/up.sh "$(CLUSTER_STATE_DIR)"

cluster-down:
	hack/cluster/down.sh $(if $(PURGE),--purge) "$(CLUSTER_STATE_DIR)"
