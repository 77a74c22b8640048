#!/usr/bin/env bash
# Build (once) the pinned monitoring stack the tests, devstack and the demo run against, from Go modules:
#   current: Prometheus 3.16 server + promtool, Alertmanager 0.35 + amtool
#       -> ${SLO_CACHE:-$HOME/.cache/slo-operator}/prometheus-stack/current/bin/{prometheus,promtool,alertmanager,amtool}
#   lts:     promtool of the Prometheus 2.53 LTS line (rule tests run on every promtool available)
#       -> ${SLO_CACHE:-$HOME/.cache/slo-operator}/prometheus-stack/lts/bin/promtool
# The Debian packages (Prometheus 2.42, Alertmanager 0.25) come from `make tools`; PROM_STACK picks the set.
#
# Idempotent: one stamp per pin; a warm cache returns without invoking Go. Concurrent callers wait on a
# flock instead of building twice. Compiles run under `nice`; progress goes to stderr. Prometheus 3 is
# built with the same flags as a plain `go install` (CGO default, no -trimpath), so a Go build cache
# warmed that way is reused; only link-time -X flags are added, to stamp versions like upstream's promu.
#
# Usage: build.sh [--env]
#   --env   after building, print KEY=VALUE lines (directories, versions) on stdout.
set -euo pipefail

# ---- pins ---------------------------------------------------------------------------------------
PROMETHEUS_VERSION=v0.316.0       # github.com/prometheus/prometheus = Prometheus 3.16.0
PROMETHEUS_LTS_VERSION=v0.53.3    # github.com/prometheus/prometheus = Prometheus 2.53.3 (LTS line)
ALERTMANAGER_VERSION=v0.35.0      # github.com/prometheus/alertmanager
RECIPE=1                          # bump when the recipe changes, to invalidate existing stamps

CACHE="${SLO_CACHE:-$HOME/.cache/slo-operator}"
STACK="$CACHE/prometheus-stack"
CURRENT_BIN="$STACK/current/bin"
LTS_BIN="$STACK/lts/bin"
STAMP_DIR="$CACHE/stamps"
BUILD_ROOT="$CACHE/build"

want_env=0
for arg in "$@"; do
  case "$arg" in
    --env) want_env=1 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

BUILD_TAG=prometheus-build
# shellcheck source=../lib/build-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/build-common.sh"
log() { build_log "$@"; }
print_env() {
  cat <<EOF
PROM_STACK_CURRENT_BIN=$CURRENT_BIN
PROM_STACK_LTS_BIN=$LTS_BIN
PROMETHEUS_VERSION=$PROMETHEUS_VERSION
PROMETHEUS_LTS_VERSION=$PROMETHEUS_LTS_VERSION
ALERTMANAGER_VERSION=$ALERTMANAGER_VERSION
EOF
}
finish() { ((want_env)) && print_env; exit 0; }

P3_STAMP=$STAMP_DIR/prometheus-stack-prometheus-$PROMETHEUS_VERSION
P3_VALUE="github.com/prometheus/prometheus@$PROMETHEUS_VERSION recipe=$RECIPE"
LTS_STAMP=$STAMP_DIR/prometheus-stack-promtool-$PROMETHEUS_LTS_VERSION
LTS_VALUE="github.com/prometheus/prometheus@$PROMETHEUS_LTS_VERSION recipe=$RECIPE"
AM_STAMP=$STAMP_DIR/prometheus-stack-alertmanager-$ALERTMANAGER_VERSION
AM_VALUE="github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION recipe=$RECIPE"

p3_ok() { stamp_ok "$P3_STAMP" "$P3_VALUE" "$CURRENT_BIN/prometheus" "$CURRENT_BIN/promtool"; }
lts_ok() { stamp_ok "$LTS_STAMP" "$LTS_VALUE" "$LTS_BIN/promtool"; }
am_ok() { stamp_ok "$AM_STAMP" "$AM_VALUE" "$CURRENT_BIN/alertmanager" "$CURRENT_BIN/amtool"; }
all_ok() { p3_ok && lts_ok && am_ok; }

all_ok && finish

# ---- slow path ----------------------------------------------------------------------------------
mkdir -p "$CACHE" "$STAMP_DIR" "$BUILD_ROOT"
build_lock "$CACHE/.prometheus-stack.lock" "the Prometheus stack"
all_ok && finish  # somebody else finished while we waited

find_go
export GOFLAGS=-buildvcs=false

# Link-time version stamp, as upstream's .promu.yml does.
version_ldflags() { # version(without v) revision date
  local pkg=github.com/prometheus/common/version
  echo "-X $pkg.Version=$1 -X $pkg.Revision=$2 -X $pkg.Branch=HEAD -X $pkg.BuildUser=slo-operator@build -X $pkg.BuildDate=$3"
}
module_stamp() { # module version -> "revision date" from the proxy's info
  local json hash info date
  json=$(mod_json "$BUILD_ROOT" "$1@$2")
  hash=$(json_field "$json" Hash)
  info=$(json_field "$json" Info)
  date=$(sed -n 's/.*"Time":"\([0-9]*\)-\([0-9]*\)-\([0-9]*\)T\([0-9:]*\).*/\1\2\3-\4/p' "$info")
  echo "${hash:-unknown} ${date:-unknown}"
}

build_prometheus3() {
  p3_ok && return 0
  local dir="$BUILD_ROOT/prometheus-$PROMETHEUS_VERSION" rev date
  rm -rf "$dir"; mkdir -p "$dir/bin"
  read -r rev date < <(module_stamp github.com/prometheus/prometheus "$PROMETHEUS_VERSION")
  local ldflags
  ldflags=$(version_ldflags 3.16.0 "$rev" "$date")
  # Same flags as a plain `go install` (what warms the build cache): only -ldflags differs (link only).
  with_progress "building prometheus + promtool from github.com/prometheus/prometheus@$PROMETHEUS_VERSION" "15-25 min" \
    env GOBIN="$dir/bin" "$GO" install -ldflags="$ldflags" \
    "github.com/prometheus/prometheus/cmd/prometheus@$PROMETHEUS_VERSION" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
  mkdir -p "$CURRENT_BIN"
  mv -f "$dir/bin/prometheus" "$dir/bin/promtool" "$CURRENT_BIN/"
  write_stamp "$P3_STAMP" "$P3_VALUE"
}

# Modules whose go.mod has replace directives (Prometheus 2.53) or //go:embed of assets missing from
# the module zip (Alertmanager's UI) cannot be `go install`ed: build a writable copy of the module.
copy_module() { # module version dest
  local json src
  json=$(mod_json "$BUILD_ROOT" "$1@$2")
  src=$(json_field "$json" Dir)
  [[ -d "$src" ]] || { echo "build.sh: cannot download $1@$2" >&2; exit 1; }
  rm -rf "$3"; mkdir -p "$(dirname "$3")"
  cp -r "$src" "$3"
  chmod -R u+w "$3"
}

build_lts_promtool() {
  lts_ok && return 0
  local dir="$BUILD_ROOT/prometheus-$PROMETHEUS_LTS_VERSION" rev date
  read -r rev date < <(module_stamp github.com/prometheus/prometheus "$PROMETHEUS_LTS_VERSION")
  copy_module github.com/prometheus/prometheus "$PROMETHEUS_LTS_VERSION" "$dir/src"
  local ldflags
  ldflags=$(version_ldflags 2.53.3 "$rev" "$date")
  with_progress "building promtool from github.com/prometheus/prometheus@$PROMETHEUS_LTS_VERSION (2.53 LTS)" "10-15 min" \
    bash -c 'cd "$1" && shift && exec "$@"' _ "$dir/src" "$GO" build -mod=mod -ldflags="$ldflags" \
    -o "$dir/promtool" ./cmd/promtool
  mkdir -p "$LTS_BIN"
  mv -f "$dir/promtool" "$LTS_BIN/promtool"
  rm -rf "$dir/src"
  write_stamp "$LTS_STAMP" "$LTS_VALUE"
}

build_alertmanager() {
  am_ok && return 0
  local dir="$BUILD_ROOT/alertmanager-$ALERTMANAGER_VERSION" rev date
  read -r rev date < <(module_stamp github.com/prometheus/alertmanager "$ALERTMANAGER_VERSION")
  copy_module github.com/prometheus/alertmanager "$ALERTMANAGER_VERSION" "$dir/src"
  # ui/web.go embeds app/dist (built with npm upstream, not in the module zip). The UI is not used here.
  if [[ ! -e "$dir/src/ui/app/dist" ]]; then
    mkdir -p "$dir/src/ui/app/dist"
    echo '<!doctype html><title>Alertmanager</title><p>UI not built (API only).</p>' >"$dir/src/ui/app/dist/index.html"
  fi
  local ldflags
  ldflags=$(version_ldflags 0.35.0 "$rev" "$date")
  with_progress "building alertmanager + amtool from github.com/prometheus/alertmanager@$ALERTMANAGER_VERSION" "5-10 min" \
    bash -c 'cd "$1" && shift && exec "$@"' _ "$dir/src" "$GO" build -mod=mod -ldflags="$ldflags" \
    -o "$dir/" ./cmd/alertmanager ./cmd/amtool
  mkdir -p "$CURRENT_BIN"
  mv -f "$dir/alertmanager" "$dir/amtool" "$CURRENT_BIN/"
  rm -rf "$dir/src"
  write_stamp "$AM_STAMP" "$AM_VALUE"
}

t_all=$SECONDS
build_alertmanager
build_lts_promtool
build_prometheus3
log "ready in $((SECONDS - t_all))s: $CURRENT_BIN (prometheus 3.16.0, promtool, alertmanager 0.35.0, amtool), $LTS_BIN/promtool (2.53.3)"
finish
