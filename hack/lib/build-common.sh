# Shared steps of the hack/*/build.sh scripts that compile pinned tools from Go modules into the cache
# outside the checkout. Sourced, not run. Every build script follows the same contract, so one place
# decides how it is kept:
#   - a stamp file per pin ("<module>@<version> recipe=N"): a warm cache returns without invoking Go;
#   - concurrent callers serialize on a flock and re-check the stamp after waiting;
#   - compiles run under `nice`, and long steps print their elapsed time to stderr.
#
# The caller sets BUILD_TAG (the log prefix) before sourcing.

build_log() { echo "[${BUILD_TAG:-build}] $*" >&2; }

# stamp_ok STAMP VALUE FILE... -> 0 when STAMP holds VALUE and every FILE is there (binaries executable,
# other files non-empty).
stamp_ok() {
  local stamp=$1 value=$2 f
  shift 2
  [[ -f "$stamp" && "$(<"$stamp")" == "$value" ]] || return 1
  for f in "$@"; do
    case "$f" in
      *.yaml | *.yml | *.json) [[ -s "$f" ]] || return 1 ;;
      *) [[ -s "$f" && -x "$f" ]] || return 1 ;;
    esac
  done
}

# write_stamp STAMP VALUE: atomically, so a reader never sees a half-written stamp.
write_stamp() {
  mkdir -p "$(dirname "$1")"
  echo "$2" >"$1.tmp" && mv -f "$1.tmp" "$1"
}

# build_lock LOCKFILE WHAT: take an exclusive flock on fd 9 for the rest of the script, saying so when
# another build holds it.
build_lock() {
  mkdir -p "$(dirname "$1")"
  exec 9>"$1"
  if ! flock -n 9; then
    build_log "another build of $2 is running; waiting for it (lock $1)"
    flock 9
  fi
}

# find_go: sets GO to the local toolchain (GO=/path/to/go overrides) and pins the environment every
# recipe shares. CGO_ENABLED and GOFLAGS stay with each recipe (they decide Go build-cache reuse).
find_go() {
  GO="${GO:-$(command -v go || true)}"
  [[ -n "$GO" ]] || GO=/usr/local/go/bin/go
  [[ -x "$GO" ]] || { echo "build.sh: Go toolchain not found (set GO=/path/to/go)" >&2; exit 1; }
  export GOTOOLCHAIN=local GOWORK=off
  unset GOOS GOARCH
}

# mod_json DIR MODULE@VERSION: `go mod download -json`, run in DIR (outside any module of ours).
mod_json() { (cd "$1" && "$GO" mod download -json "$2"); }

# json_field JSON FIELD: a top-level string field of `go mod download -json` output.
json_field() { sed -n "s/^[[:space:]]*\"$2\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" <<<"$1" | head -n1; }

# with_progress WHAT USUAL COMMAND...: run COMMAND under nice, logging the elapsed time every minute so
# a waiting `make` is not silent.
with_progress() {
  local what=$1 usual=$2 t0=$SECONDS pid i
  shift 2
  build_log "$what (usually $usual cold on two busy cores; seconds when the Go build cache is warm)"
  nice -n 10 "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for ((i = 0; i < 60; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null && build_log "  ... $what: $((SECONDS - t0))s"
  done
  wait "$pid" || { build_log "$what FAILED after $((SECONDS - t0))s"; return 1; }
  build_log "$what: done in $((SECONDS - t0))s"
}
