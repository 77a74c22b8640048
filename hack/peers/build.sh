#!/usr/bin/env bash
# Build (once) the SLO tools slo-operator imports from, for the migration equivalence tests only:
#   ${SLO_CACHE:-$HOME/.cache/slo-operator}/peers/sloth-<SLOTH_VERSION>/sloth
#   ${SLO_CACHE:-$HOME/.cache/slo-operator}/peers/pyrra-<PYRRA_VERSION>/pyrra
#
# Sloth installs with `go install`. Pyrra cannot: its module zip has no files for `//go:embed ui/build`
# (the web UI is built separately), so the module is copied out of the module cache, given an empty
# ui/build/index.html and built with `go build` (the UI is not needed to generate rules).
#
# Idempotent: a stamp per pin; a warm cache returns without invoking Go. Concurrent callers wait on a
# flock instead of building twice; builds run under `nice` and report progress on stderr.
#
# Usage: build.sh [--env]
#   --env   after building, print SLOTH_BIN=... and PYRRA_BIN=... on stdout (logs go to stderr).
set -euo pipefail

# ---- pins ---------------------------------------------------------------------------------------
SLOTH_VERSION=v0.16.0   # github.com/slok/sloth
PYRRA_VERSION=v0.10.1   # github.com/pyrra-dev/pyrra
RECIPE=1                # bump when the recipe changes, to invalidate existing stamps

CACHE="${SLO_CACHE:-$HOME/.cache/slo-operator}"
PEERS="$CACHE/peers"
SLOTH_BIN="$PEERS/sloth-$SLOTH_VERSION/sloth"
PYRRA_BIN="$PEERS/pyrra-$PYRRA_VERSION/pyrra"
STAMP_DIR="$CACHE/stamps"
SLOTH_STAMP="$STAMP_DIR/peer-sloth-$SLOTH_VERSION"
PYRRA_STAMP="$STAMP_DIR/peer-pyrra-$PYRRA_VERSION"
SLOTH_VALUE="github.com/slok/sloth@$SLOTH_VERSION recipe=$RECIPE"
PYRRA_VALUE="github.com/pyrra-dev/pyrra@$PYRRA_VERSION recipe=$RECIPE"

want_env=0
for arg in "$@"; do
  case "$arg" in
    --env) want_env=1 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "[peers-build] $*" >&2; }
ok() { [[ -f "$1" && "$(<"$1")" == "$2" && -x "$3" ]]; }
all_ok() { ok "$SLOTH_STAMP" "$SLOTH_VALUE" "$SLOTH_BIN" && ok "$PYRRA_STAMP" "$PYRRA_VALUE" "$PYRRA_BIN"; }
finish() {
  ((want_env)) && printf 'SLOTH_BIN=%s\nPYRRA_BIN=%s\n' "$SLOTH_BIN" "$PYRRA_BIN"
  exit 0
}

all_ok && finish

mkdir -p "$PEERS" "$STAMP_DIR"
exec 9>"$PEERS/.build.lock"
if ! flock -n 9; then
  log "another build of the peer tools is running; waiting for it"
  flock 9
fi
all_ok && finish  # somebody else finished while we waited

GO="${GO:-$(command -v go || true)}"
[[ -n "$GO" ]] || GO=/usr/local/go/bin/go
[[ -x "$GO" ]] || { echo "build.sh: Go toolchain not found (set GO=/path/to/go)" >&2; exit 1; }
export GOTOOLCHAIN=local CGO_ENABLED=0 GOWORK=off
unset GOFLAGS GOOS GOARCH

# Run a build under nice, printing a line with the elapsed time every 30 s until it ends.
with_progress() { # what usual-cold-time command...
  local what=$1 usual=$2 t0=$SECONDS pid rc; shift 2
  log "building $what (cold: $usual on two busy cores; warm Go build cache: seconds)"
  nice -n 10 "$@" & pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 5 & wait $! || true
    kill -0 "$pid" 2>/dev/null && (( (SECONDS - t0) % 30 < 5 )) && log "  $what: $((SECONDS - t0))s elapsed"
  done
  wait "$pid"; rc=$?
  log "$what: done in $((SECONDS - t0))s (exit $rc)"
  return "$rc"
}

stamp() { echo "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"; }

if ! ok "$SLOTH_STAMP" "$SLOTH_VALUE" "$SLOTH_BIN"; then
  work="$PEERS/build/sloth-$SLOTH_VERSION"
  rm -rf "$work"; mkdir -p "$work"
  with_progress "sloth $SLOTH_VERSION" "about 3-6 min" \
    env GOBIN="$work" "$GO" install -trimpath -ldflags="-s -w -X github.com/slok/sloth/internal/info.Version=$SLOTH_VERSION" \
    "github.com/slok/sloth/cmd/sloth@$SLOTH_VERSION"
  mkdir -p "$(dirname "$SLOTH_BIN")"
  mv -f "$work/sloth" "$SLOTH_BIN.tmp" && mv -f "$SLOTH_BIN.tmp" "$SLOTH_BIN"
  rm -rf "$work"
  stamp "$SLOTH_STAMP" "$SLOTH_VALUE"
fi

if ! ok "$PYRRA_STAMP" "$PYRRA_VALUE" "$PYRRA_BIN"; then
  work="$PEERS/build/pyrra-$PYRRA_VERSION"
  rm -rf "$work"; mkdir -p "$work"
  dir=$(cd "$work" && "$GO" mod download -json "github.com/pyrra-dev/pyrra@$PYRRA_VERSION" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' | head -n1)
  [[ -d "$dir" ]] || { echo "build.sh: cannot download github.com/pyrra-dev/pyrra@$PYRRA_VERSION" >&2; exit 1; }
  cp -r "$dir" "$work/src" && chmod -R u+w "$work/src"
  mkdir -p "$work/src/ui/build" && : >"$work/src/ui/build/index.html"
  (cd "$work/src" && with_progress "pyrra $PYRRA_VERSION" "about 4-8 min" \
    "$GO" build -mod=mod -trimpath -ldflags="-s -w" -o "$work/pyrra" .)
  mkdir -p "$(dirname "$PYRRA_BIN")"
  mv -f "$work/pyrra" "$PYRRA_BIN.tmp" && mv -f "$PYRRA_BIN.tmp" "$PYRRA_BIN"
  rm -rf "$work"
  stamp "$PYRRA_STAMP" "$PYRRA_VALUE"
fi

finish
