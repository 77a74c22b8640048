#!/usr/bin/env bash
# Build (once) the pinned helm CLI from its Go module, outside the checkout:
#   ${SLO_CACHE:-$HOME/.cache/slo-operator}/helm-<HELM_VERSION>/helm
#
# Idempotent: a stamp per pin; a warm cache returns without invoking Go. Concurrent callers are
# serialized with flock. CGO_ENABLED=0, -trimpath, version information stamped like upstream's Makefile.
#
# Usage: build.sh [--print-path] [--check]
#   --print-path   after building, print the helm binary's path on stdout (logs go to stderr).
#   --check        build nothing: exit 0 when cached, 3 when `make helm` is needed.
set -euo pipefail

# ---- pins ---------------------------------------------------------------------------------------
HELM_VERSION=v3.17.4   # helm.sh/helm/v3 (its go.mod pins k8s.io/client-go v0.32.2)
RECIPE=1               # bump when the recipe changes, to invalidate existing stamps

CACHE="${SLO_CACHE:-$HOME/.cache/slo-operator}"
HELM_DIR="$CACHE/helm-$HELM_VERSION"
HELM_BIN="$HELM_DIR/helm"
STAMP_DIR="$CACHE/stamps"
STAMP="$STAMP_DIR/helm-$HELM_VERSION"
STAMP_VALUE="helm.sh/helm/v3@$HELM_VERSION recipe=$RECIPE"

print_path=0
check_only=0
for arg in "$@"; do
  case "$arg" in
    --print-path) print_path=1 ;;
    --check) check_only=1 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

BUILD_TAG=helm-build
# shellcheck source=../lib/build-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/build-common.sh"
log() { build_log "$@"; }
ok() { stamp_ok "$STAMP" "$STAMP_VALUE" "$HELM_BIN"; }
done_() { ((print_path)) && echo "$HELM_BIN"; exit 0; }

ok && done_
((check_only)) && exit 3

mkdir -p "$CACHE" "$STAMP_DIR"
build_lock "$CACHE/.helm-build.lock" "helm $HELM_VERSION"
ok && done_  # somebody else finished while we waited

find_go
export CGO_ENABLED=0
unset GOFLAGS

log "building helm from helm.sh/helm/v3@$HELM_VERSION (cold: a few minutes)"
t0=$SECONDS
work="$CACHE/build/helm-$HELM_VERSION"
rm -rf "$work"; mkdir -p "$work/bin"
json=$(mod_json "$work" "helm.sh/helm/v3@$HELM_VERSION")
commit=$(json_field "$json" Hash)
gomod=$(json_field "$json" GoMod)
[[ -f "$gomod" ]] || { echo "build.sh: cannot download helm.sh/helm/v3@$HELM_VERSION" >&2; exit 1; }
# Kubernetes version helm assumes for .Capabilities when not talking to a cluster (as upstream does:
# client-go v0.M.m -> 1.m).
kminor=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod" | head -n1)
ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
ldflags+=" -X helm.sh/helm/v3/internal/version.gitCommit=$commit -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
if [[ -n "$kminor" ]]; then
  for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    ldflags+=" -X $pkg.k8sVersionMajor=1 -X $pkg.k8sVersionMinor=$kminor"
  done
fi
# `go install module@version` builds with helm's own go.mod/go.sum (no replaces in it), checksummed.
(cd "$work" && GOBIN="$work/bin" "$GO" install -trimpath -ldflags="$ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION")
"$work/bin/helm" version --short >&2
mkdir -p "$HELM_DIR"
mv -f "$work/bin/helm" "$HELM_BIN.tmp" && mv -f "$HELM_BIN.tmp" "$HELM_BIN"
write_stamp "$STAMP" "$STAMP_VALUE"
rm -rf "$work"
log "helm $HELM_VERSION built in $((SECONDS - t0))s: $HELM_BIN"
done_
