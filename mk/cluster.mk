# Local, container-free Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager),
# built from pinned Go modules into $(SLO_CACHE) (default ~/.cache/slo-operator).
#   make cluster-build               build/cache the binaries and prometheus-operator CRDs
#   make cluster-up                  start (or check) the cluster; kubeconfig: $(CLUSTER_STATE_DIR)/kubeconfig
#   make cluster-down                stop it, keep its data
#   make cluster-down PURGE=1        stop it and remove $(CLUSTER_STATE_DIR)
CLUSTER_STATE_DIR ?= $(CURDIR)/.cluster

.PHONY: cluster-build cluster-up cluster-down

cluster-build: ## Build (once) and cache etcd, kube-apiserver, kube-controller-manager (progress on stderr)
	@hack/progress.sh "Kubernetes v1.32.4 control plane (etcd, kube-apiserver, kube-controller-manager)" \
		"15-20 min" hack/cluster/build.sh

cluster-up: cluster-build ## Start (or check) the local control plane; kubeconfig in .cluster/
	hack/cluster/up.sh "$(CLUSTER_STATE_DIR)"

cluster-down: ## Stop the local control plane (PURGE=1: remove its data)
	hack/cluster/down.sh $(if $(PURGE),--purge) "$(CLUSTER_STATE_DIR)"
