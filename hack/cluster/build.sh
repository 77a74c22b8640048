#!/usr/bin/env bash
# Build (once) the pinned, container-free Kubernetes control plane used for development and tests:
#   etcd, kube-apiserver, kube-controller-manager  -- compiled from Go modules
#   kubelet, kube-scheduler (--node)                -- same wrapper module, for a local node
#   prometheus-operator CRDs                        -- copied from the downloaded Go module
#
# Everything lands in the cache, outside the checkout:
#   ${SLO_CACHE:-$HOME/.cache/slo-operator}/k8s-<K8S_VERSION>/bin/{etcd,kube-apiserver,kube-controller-manager}
#   ${SLO_CACHE:-$HOME/.cache/slo-operator}/prometheus-operator-crds/<PROM_OPERATOR_VERSION>/*.yaml
#
# Idempotent: one stamp file per pin; a warm cache returns without invoking Go at all.
#
# Usage: build.sh [--env] [--crds-only] [--check] [--node]
#   --env         after building, print KEY=VALUE lines (paths, versions) on stdout for `eval`.
#   --crds-only   only fetch the prometheus-operator CRDs (no Go build of Kubernetes/etcd).
#   --check       build nothing: exit 0 when the cache is warm, 3 when `make cluster-build` is needed.
#   --node        also build kubelet and kube-scheduler (cold: ~15 min on two busy cores, ~2 min when
#                 the control plane's packages are already in the Go build cache).
# All progress/log output goes to stderr.
set -euo pipefail

# ---- pins ---------------------------------------------------------------------------------------
K8S_VERSION=v1.32.4                 # k8s.io/kubernetes
K8S_STAGING_VERSION=v0.32.4         # k8s.io/<staging> modules published for K8S_VERSION
ETCD_VERSION=v3.5.16                # go.etcd.io/etcd/server/v3 (what k8s.io/kubernetes v1.32.4's go.mod pins)
PROM_OPERATOR_VERSION=v0.85.0       # github.com/prometheus-operator/prometheus-operator (as hack/prometheus-operator/build.sh)
# Bump when the build recipe itself changes, to invalidate existing stamps.
RECIPE=1

CACHE="${SLO_CACHE:-$HOME/.cache/slo-operator}"
K8S_ROOT="$CACHE/k8s-$K8S_VERSION"
BIN_DIR="$K8S_ROOT/bin"
CRD_DIR="$CACHE/prometheus-operator-crds/$PROM_OPERATOR_VERSION"
STAMP_DIR="$CACHE/stamps"
BUILD_ROOT="$CACHE/build"

print_env() {
  cat <<EOF
SLO_CACHE=$CACHE
K8S_VERSION=$K8S_VERSION
ETCD_VERSION=$ETCD_VERSION
PROM_OPERATOR_VERSION=$PROM_OPERATOR_VERSION
K8S_BIN_DIR=$BIN_DIR
PROM_OPERATOR_CRD_DIR=$CRD_DIR
EOF
}

want_env=0
crds_only=0
check_only=0
node=0
for arg in "$@"; do
  case "$arg" in
    --env) want_env=1 ;;
    --crds-only) crds_only=1 ;;
    --check) check_only=1 ;;
    --node) node=1 ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

BUILD_TAG=cluster-build
# shellcheck source=../lib/build-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/build-common.sh"
log() { build_log "$@"; }

stamp_value() { echo "$1 recipe=$RECIPE"; }

K8S_STAMP=$STAMP_DIR/kubernetes-$K8S_VERSION
K8S_STAMP_VALUE=$(stamp_value "k8s.io/kubernetes@$K8S_VERSION staging@$K8S_STAGING_VERSION")
ETCD_STAMP=$STAMP_DIR/etcd-$ETCD_VERSION
ETCD_STAMP_VALUE=$(stamp_value "go.etcd.io/etcd/server/v3@$ETCD_VERSION")
NODE_STAMP=$STAMP_DIR/kubernetes-node-$K8S_VERSION
NODE_STAMP_VALUE=$K8S_STAMP_VALUE
CRD_STAMP=$STAMP_DIR/prometheus-operator-crds-$PROM_OPERATOR_VERSION
CRD_STAMP_VALUE=$(stamp_value "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION")

crds_ok() { stamp_ok "$CRD_STAMP" "$CRD_STAMP_VALUE" "$CRD_DIR/monitoring.coreos.com_prometheusrules.yaml"; }
all_ok() {
  ((crds_only)) && { crds_ok; return; }
  stamp_ok "$K8S_STAMP" "$K8S_STAMP_VALUE" "$BIN_DIR/kube-apiserver" "$BIN_DIR/kube-controller-manager" &&
    stamp_ok "$ETCD_STAMP" "$ETCD_STAMP_VALUE" "$BIN_DIR/etcd" &&
    { ((node == 0)) || node_ok; } &&
    crds_ok
}
node_ok() { stamp_ok "$NODE_STAMP" "$NODE_STAMP_VALUE" "$BIN_DIR/kubelet" "$BIN_DIR/kube-scheduler"; }

# Fast path: warm cache, no Go toolchain needed.
if all_ok; then
  [[ $want_env == 1 ]] && print_env
  exit 0
fi

((check_only)) && exit 3

# ---- slow path ----------------------------------------------------------------------------------
mkdir -p "$CACHE" "$STAMP_DIR" "$BUILD_ROOT"
# Serialize concurrent builders (parallel test sessions, make -j, ...). Fetching the CRDs takes its own
# lock (in fetch_crds), so --crds-only never waits behind a Kubernetes build.
((crds_only)) || build_lock "$CACHE/.build.lock" "the Kubernetes control plane"
if all_ok; then  # somebody else finished while we waited
  [[ $want_env == 1 ]] && print_env
  exit 0
fi

find_go
export CGO_ENABLED=0
unset GOFLAGS

# k8s_module DIR: writes the wrapper module (k8s.io/kubernetes + its staging modules pinned to their
# release) into DIR and sets K8S_LDFLAGS. Control plane and node binaries use the same module set.
k8s_module() {
  local dir=$1
  rm -rf "$dir"; mkdir -p "$dir"
  local json gomod commit info build_date
  json=$(mod_json "$dir" "k8s.io/kubernetes@$K8S_VERSION")
  gomod=$(json_field "$json" GoMod)
  commit=$(json_field "$json" Hash)
  info=$(json_field "$json" Info)
  [[ -f "$gomod" ]] || { echo "build.sh: cannot download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
  build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
  # Every staging module k8s.io/kubernetes replaces with ./staging/src/... gets pinned to its release.
  local staging
  staging=$(sed -n 's#^[[:space:]]*\(k8s\.io/[^[:space:]]*\)[[:space:]]*=>[[:space:]]*\./staging/src/.*#\1#p' "$gomod" | sort -u)
  [[ -n "$staging" ]] || { echo "build.sh: found no staging replaces in $gomod" >&2; exit 1; }
  {
    echo "module slo-operator.local/k8s-build"
    echo
    echo "go 1.23.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    echo "replace ("
    local m
    for m in $staging; do echo "	$m => $m $K8S_STAGING_VERSION"; done
    echo ")"
  } >"$dir/go.mod"
  log "pinned $(wc -w <<<"$staging") staging modules to $K8S_STAGING_VERSION"
  local minor=${K8S_VERSION#v}; minor=${minor#*.}; minor=${minor%%.*}
  local major=${K8S_VERSION#v}; major=${major%%.*}
  local pkg
  K8S_LDFLAGS="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    K8S_LDFLAGS+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    K8S_LDFLAGS+=" -X $pkg.gitCommit=$commit -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
  done
}

build_k8s() {
  stamp_ok "$K8S_STAMP" "$K8S_STAMP_VALUE" "$BIN_DIR/kube-apiserver" "$BIN_DIR/kube-controller-manager" && return 0
  log "building kube-apiserver + kube-controller-manager from k8s.io/kubernetes@$K8S_VERSION (slow: minutes)"
  local t0=$SECONDS dir="$BUILD_ROOT/kubernetes-$K8S_VERSION"
  k8s_module "$dir"
  local out="$dir/out"; mkdir -p "$out"
  (cd "$dir" && GOFLAGS=-mod=mod "$GO" build -trimpath -ldflags="$K8S_LDFLAGS" -o "$out/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager)
  mkdir -p "$BIN_DIR"
  mv -f "$out/kube-apiserver" "$out/kube-controller-manager" "$BIN_DIR/"
  write_stamp "$K8S_STAMP" "$K8S_STAMP_VALUE"
  log "kubernetes $K8S_VERSION built in $((SECONDS - t0))s"
}

build_node() {
  node_ok && return 0
  log "building kubelet + kube-scheduler from k8s.io/kubernetes@$K8S_VERSION (usually ~15 min cold, ~3 min after the control plane)"
  local t0=$SECONDS dir="$BUILD_ROOT/kubernetes-node-$K8S_VERSION"
  k8s_module "$dir"
  local out="$dir/out"; mkdir -p "$out"
  (cd "$dir" && GOFLAGS=-mod=mod with_progress "kubelet + kube-scheduler" "15 min" \
    "$GO" build -trimpath -ldflags="$K8S_LDFLAGS" -o "$out/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-scheduler)
  mkdir -p "$BIN_DIR"
  mv -f "$out/kubelet" "$out/kube-scheduler" "$BIN_DIR/"
  write_stamp "$NODE_STAMP" "$NODE_STAMP_VALUE"
  log "kubelet + kube-scheduler $K8S_VERSION built in $((SECONDS - t0))s"
}

build_etcd() {
  stamp_ok "$ETCD_STAMP" "$ETCD_STAMP_VALUE" "$BIN_DIR/etcd" && return 0
  log "building etcd from go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  local t0=$SECONDS dir="$BUILD_ROOT/etcd-$ETCD_VERSION"
  rm -rf "$dir"; mkdir -p "$dir"
  local commit
  commit=$(json_field "$(mod_json "$dir" "go.etcd.io/etcd/server/v3@$ETCD_VERSION")" Hash)
  printf 'module slo-operator.local/etcd-build\n\ngo 1.22\n\nrequire go.etcd.io/etcd/server/v3 %s\n' \
    "$ETCD_VERSION" >"$dir/go.mod"
  local out="$dir/out"; mkdir -p "$out"
  (cd "$dir" && GOFLAGS=-mod=mod "$GO" build -trimpath \
    -ldflags="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=${commit:0:8}${commit:+-}$ETCD_VERSION" -o "$out/etcd" go.etcd.io/etcd/server/v3)
  mkdir -p "$BIN_DIR"
  mv -f "$out/etcd" "$BIN_DIR/etcd"
  write_stamp "$ETCD_STAMP" "$ETCD_STAMP_VALUE"
  log "etcd $ETCD_VERSION built in $((SECONDS - t0))s"
}

fetch_crds() {
  crds_ok && return 0
  exec 8>"$CACHE/.crds.lock"
  flock 8
  crds_ok && { exec 8>&-; return 0; }
  log "extracting prometheus-operator CRDs from github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION"
  local moddir src
  moddir=$(json_field "$(mod_json "$BUILD_ROOT" "github.com/prometheus-operator/prometheus-operator@$PROM_OPERATOR_VERSION")" Dir)
  src="$moddir/example/prometheus-operator-crd"
  compgen -G "$src/monitoring.coreos.com_*.yaml" >/dev/null ||
    { echo "build.sh: no monitoring.coreos.com CRDs in $src" >&2; exit 1; }
  local tmp="$CRD_DIR.tmp.$$"
  rm -rf "$tmp"; mkdir -p "$tmp"
  cp "$src"/monitoring.coreos.com_*.yaml "$tmp/"
  chmod 0644 "$tmp"/*.yaml
  local f
  for f in prometheusrules alertmanagerconfigs servicemonitors; do
    [[ -s "$tmp/monitoring.coreos.com_$f.yaml" ]] || { echo "build.sh: missing CRD $f" >&2; exit 1; }
  done
  rm -rf "$CRD_DIR"; mkdir -p "$(dirname "$CRD_DIR")"; mv "$tmp" "$CRD_DIR"
  write_stamp "$CRD_STAMP" "$CRD_STAMP_VALUE"
  log "copied $(find "$CRD_DIR" -name "*.yaml" | wc -l) CRDs to $CRD_DIR"
  exec 8>&-
}

fetch_crds
if ((crds_only == 0)); then
  build_etcd
  build_k8s
  ((node)) && build_node
  log "ready: $BIN_DIR"
fi
[[ $want_env == 1 ]] && print_env
exit 0
