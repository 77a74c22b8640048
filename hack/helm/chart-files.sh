#!/usr/bin/env bash
# Copy into the chart the files it packages from elsewhere in the repository (tests/helm fails when a
# copy is stale). Usage: hack/helm/chart-files.sh  (run by `make chart-files`; no helm needed)
#   crds/*.yaml                       -> helm/slo-operator/crds/
#   manifests/rbac.yaml               -> helm/slo-operator/files/rbac.yaml   (ClusterRole rules)
#   manifests/dashboards/*.yaml       -> helm/slo-operator/files/dashboards/ (overview board)
#   manifests/model-service/*.yaml    -> helm/slo-operator/files/model-service/
#   manifests/policy/deploy-freeze.yaml -> helm/slo-operator/files/policy/ (admission policy + binding)
set -euo pipefail
cd "$(dirname "$0")/../.."
CHART=helm/slo-operator

sync_dir() { # source-dir dest-dir : dest/*.yaml becomes exactly source/*.yaml (kustomization excluded)
  local src=$1 dst=$2 f
  mkdir -p "$dst"
  find "$dst" -maxdepth 1 -name '*.yaml' -delete
  for f in "$src"/*.yaml; do
    [[ -e "$f" ]] || continue
    [[ "$(basename "$f")" == kustomization.yaml ]] && continue
    cp "$f" "$dst/"
  done
}

sync_dir crds "$CHART/crds"
sync_dir manifests/dashboards "$CHART/files/dashboards"
sync_dir manifests/model-service "$CHART/files/model-service"
mkdir -p "$CHART/files/policy"
cp manifests/policy/deploy-freeze.yaml "$CHART/files/policy/deploy-freeze.yaml"
mkdir -p "$CHART/files"
cp manifests/rbac.yaml "$CHART/files/rbac.yaml"
echo "chart files synced into $CHART" >&2
