#!/usr/bin/env bash
# Install GitHub's published OpenAPI description (npm package @octokit/openapi, pinned) into the cache,
# once: tests/policy validates the requests slo-operator sends to GitHub against it.
# Usage: hack/policy/octokit-openapi.sh [--print-path]
set -euo pipefail
VERSION=23.0.2
CACHE="${SLO_CACHE:-$HOME/.cache/slo-operator}"
DIR="$CACHE/octokit-openapi-$VERSION"
SPEC="$DIR/node_modules/@octokit/openapi/generated/api.github.com.json"
mkdir -p "$CACHE"
exec 9>"$CACHE/octokit-openapi.lock"
flock 9
if [[ ! -s "$SPEC" ]]; then
  echo "[octokit-openapi] npm install @octokit/openapi@$VERSION into $DIR (usually under a minute)" >&2
  t0=$(date +%s)
  mkdir -p "$DIR"
  (cd "$DIR" && npm install --no-audit --no-fund --silent --prefix "$DIR" "@octokit/openapi@$VERSION" >&2)
  [[ -s "$SPEC" ]] || { echo "[octokit-openapi] $SPEC missing after install" >&2; exit 1; }
  echo "[octokit-openapi] done in $(( $(date +%s) - t0 ))s" >&2
fi
if [[ "${1:-}" == --print-path ]]; then echo "$SPEC"; fi
