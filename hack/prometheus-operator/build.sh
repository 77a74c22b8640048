#!/usr/bin/env bash
# Build (once) the pinned prometheus-operator, outside the checkout:
#   ${SLO_CACHE:-$HOME/.cache/slo-operator}/prometheus-operator-<VERSION>/bin/operator
#
# The demo and the integration tests run it against the local control plane, so what reaches the
# local Prometheus/Alertmanager is what prometheus-operator itself generated from our children.
#
# Its root module's go.mod replaces pkg/apis/monitoring and pkg/client with local folders, so
# `go install module/cmd/operator@version` refuses. A throw-away wrapper module requiring all three
# modules at the same version builds cmd/operator with the root module's dependency versions.
#
# Idempotent: a stamp per pin; a warm cache returns without invoking Go. Concurrent callers wait on a
# flock instead of building twice. The build runs under `nice`; progress goes to stderr.
#
# Usage: build.sh [--print-path] [--check]
#   --print-path   after building, print the operator binary's path on stdout.
#   --check        never build: exit 3 when the binary is not cached (callers that must not wait).
set -euo pipefail

# ---- pins ---------------------------------------------------------------------------------------
PROM_OPERATOR_VERSION=v0.85.0   # github.com/prometheus-operator/prometheus-operator (+ its apis/client modules)
RECIPE=1                        # bump when the recipe changes, to invalidate existing stamps
COLD_MINUTES="5-45"             # cold: ~5 CPU-minutes; 42 min wall measured on two cores shared with other builds

MODULE=github.com/prometheus-operator/prometheus-operator
CACHE="${SLO_CACHE:-$HOME/.cache/slo-operator}"
OUT_DIR="$CACHE/prometheus-operator-$PROM_OPERATOR_VERSION"
BIN="$OUT_DIR/bin/operator"
STAMP="$OUT_DIR/.stamp"
STAMP_VALUE="$MODULE@$PROM_OPERATOR_VERSION recipe=$RECIPE"

print_path=0
check_only=0
for arg in "$@"; do
  case "$arg" in
    --print-path) print_path=1 ;;
    --check) check_only=1 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

BUILD_TAG=prometheus-operator-build
# shellcheck source=../lib/build-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/build-common.sh"
log() { build_log "$@"; }
ok() { stamp_ok "$STAMP" "$STAMP_VALUE" "$BIN"; }
done_() { ((print_path)) && echo "$BIN"; exit 0; }

ok && done_
((check_only)) && { log "not built yet: run \`make prometheus-operator\`"; exit 3; }

mkdir -p "$CACHE" "$OUT_DIR"
build_lock "$CACHE/.prometheus-operator-build.lock" "prometheus-operator $PROM_OPERATOR_VERSION"
ok && done_  # somebody else finished while we waited

find_go
export CGO_ENABLED=0
unset GOFLAGS

t0=$SECONDS
work="$OUT_DIR/build"
rm -rf "$work"; mkdir -p "$work/out"
json=$(mod_json "$work" "$MODULE@$PROM_OPERATOR_VERSION")
commit=$(json_field "$json" Hash)
gomod=$(json_field "$json" GoMod)
info=$(json_field "$json" Info)
[[ -f "$gomod" ]] || { echo "build.sh: cannot download $MODULE@$PROM_OPERATOR_VERSION" >&2; exit 1; }
build_date=$(sed -n 's/.*"Time":"\([^"]*\)".*/\1/p' "$info")
go_line=$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$gomod" | head -n1)
cat >"$work/go.mod" <<GOMOD
module slo-operator.local/prometheus-operator-build

go ${go_line:-1.24.0}

require (
	$MODULE $PROM_OPERATOR_VERSION
	$MODULE/pkg/apis/monitoring $PROM_OPERATOR_VERSION
	$MODULE/pkg/client $PROM_OPERATOR_VERSION
)
GOMOD
# Version information as upstream's Makefile stamps it (the operator logs it and derives the default
# config-reloader image tag from it).
pc=github.com/prometheus/common/version
ldflags="-s -w -X $pc.Version=${PROM_OPERATOR_VERSION#v} -X $pc.Revision=$commit -X $pc.Branch=HEAD"
ldflags+=" -X $pc.BuildUser=slo-operator -X $pc.BuildDate=$build_date"
(cd "$work" && GOFLAGS=-mod=mod with_progress "building cmd/operator from $MODULE@$PROM_OPERATOR_VERSION" \
  "$COLD_MINUTES min" "$GO" build -trimpath -ldflags="$ldflags" -o "$work/out/operator" "$MODULE/cmd/operator")
"$work/out/operator" --version >&2 || true
mkdir -p "$OUT_DIR/bin"
mv -f "$work/out/operator" "$BIN.tmp" && mv -f "$BIN.tmp" "$BIN"
write_stamp "$STAMP" "$STAMP_VALUE"
rm -rf "$work"
log "prometheus-operator $PROM_OPERATOR_VERSION built in $((SECONDS - t0))s: $BIN"
done_
