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

BUILD_TAG=peers-build
# shellcheck source=../lib/build-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/build-common.sh"
all_ok() { stamp_ok "$SLOTH_STAMP" "$SLOTH_VALUE" "$SLOTH_BIN" && stamp_ok "$PYRRA_STAMP" "$PYRRA_VALUE" "$PYRRA_BIN"; }
finish() {
  ((want_env)) && printf 'SLOTH_BIN=%s\nPYRRA_BIN=%s\n' "$SLOTH_BIN" "$PYRRA_BIN"
  exit 0
}

all_ok && finish

mkdir -p "$PEERS" "$STAMP_DIR"
build_lock "$PEERS/.build.lock" "the peer tools"
all_ok && finish  # somebody else finished while we waited

find_go
export CGO_ENABLED=0
unset GOFLAGS

if ! stamp_ok "$SLOTH_STAMP" "$SLOTH_VALUE" "$SLOTH_BIN"; then
  work="$PEERS/build/sloth-$SLOTH_VERSION"
  rm -rf "$work"; mkdir -p "$work"
  with_progress "building sloth $SLOTH_VERSION" "3-6 min" \
    env GOBIN="$work" "$GO" install -trimpath -ldflags="-s -w -X github.com/slok/sloth/internal/info.Version=$SLOTH_VERSION" \
    "github.com/slok/sloth/cmd/sloth@$SLOTH_VERSION"
  mkdir -p "$(dirname "$SLOTH_BIN")"
  mv -f "$work/sloth" "$SLOTH_BIN.tmp" && mv -f "$SLOTH_BIN.tmp" "$SLOTH_BIN"
  rm -rf "$work"
  write_stamp "$SLOTH_STAMP" "$SLOTH_VALUE"
fi

if ! stamp_ok "$PYRRA_STAMP" "$PYRRA_VALUE" "$PYRRA_BIN"; then
  work="$PEERS/build/pyrra-$PYRRA_VERSION"
  rm -rf "$work"; mkdir -p "$work"
  dir=$(json_field "$(mod_json "$work" "github.com/pyrra-dev/pyrra@$PYRRA_VERSION")" Dir)
  [[ -d "$dir" ]] || { echo "build.sh: cannot download github.com/pyrra-dev/pyrra@$PYRRA_VERSION" >&2; exit 1; }
  cp -r "$dir" "$work/src" && chmod -R u+w "$work/src"
  mkdir -p "$work/src/ui/build" && : >"$work/src/ui/build/index.html"
  (cd "$work/src" && with_progress "building pyrra $PYRRA_VERSION" "4-8 min" \
    "$GO" build -mod=mod -trimpath -ldflags="-s -w" -o "$work/pyrra" .)
  mkdir -p "$(dirname "$PYRRA_BIN")"
  mv -f "$work/pyrra" "$PYRRA_BIN.tmp" && mv -f "$PYRRA_BIN.tmp" "$PYRRA_BIN"
  rm -rf "$work"
  write_stamp "$PYRRA_STAMP" "$PYRRA_VALUE"
fi

finish
