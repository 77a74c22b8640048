# Local, container-free Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager),
# built from pinned Go modules into $(SLO_CACHE) (default ~/.cache/slo-operator).
#   make cluster-build               build/cache the binaries and prometheus-operator CRDs
#   make cluster-up                  start (or check) the cluster; kubeconfig: $(CLUSTER_STATE_DIR)/kubeconfig
#   make cluster-up NODE=1           ... plus one node (containerd + kubelet) with the project's images;
#                                    chart values for it: $(CLUSTER_STATE_DIR)/node-values.yaml
#   make cluster-down                stop it (and its node: pods, containerd, mounts), keep its data
#   make cluster-down PURGE=1        stop it and remove $(CLUSTER_STATE_DIR)
CLUSTER_STATE_DIR ?= $(CURDIR)/.cluster

.PHONY: cluster-build cluster-up cluster-down

cluster-build: ## Build (once) and cache etcd, kube-apiserver, kube-controller-manager (progress on stderr)
	@hack/progress.sh "Kubernetes v1.32.4 control plane (etcd, kube-apiserver, kube-controller-manager)" \
		"15-20 min" hack/cluster/build.sh

cluster-up: cluster-build $(if $(NODE),node-packages node-build images) ## Start (or check) the local control plane (NODE=1: and a node); kubeconfig in .cluster/
	$(if $(NODE),SLO_NODE=1 SLO_NODE_IMAGES="$$($(IMAGES_BUILD) --cached operator) $$($(IMAGES_BUILD) --cached model)") \
	  hack/cluster/up.sh "$(CLUSTER_STATE_DIR)"

cluster-down: ## Stop the local control plane (PURGE=1: remove its data)
	hack/cluster/down.sh $(if $(PURGE),--purge) "$(CLUSTER_STATE_DIR)"
