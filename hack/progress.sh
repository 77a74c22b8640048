#!/usr/bin/env bash
# Run a long build step at low priority with visible progress on stderr: what is being built, the
# elapsed time, and how long a cold build usually takes. A warm cache returns within seconds and
# prints nothing extra. The command's stdout and exit status pass through unchanged.
#
# Usage: hack/progress.sh WHAT USUAL_COLD_TIME COMMAND [ARGS...]
#   e.g. hack/progress.sh "Kubernetes control plane" "15-20 min" hack/cluster/build.sh
# Environment: PROGRESS_EVERY (seconds between lines, default 30).
set -euo pipefail

(($# >= 3)) || { sed -n '2,9p' "$0" >&2; exit 2; }
what=$1 usual=$2
shift 2
every=${PROGRESS_EVERY:-30}

nice -n 10 "$@" &
pid=$!
start=$SECONDS
announced=0
next_report=$((start + 5))
report() {
  local s=$((SECONDS - start))
  printf '[build] %s: %dm%02ds elapsed (a cold build usually takes %s on two busy cores)\n' \
    "$what" $((s / 60)) $((s % 60)) "$usual" >&2
}
while kill -0 "$pid" 2>/dev/null; do
  sleep 1
  if ((SECONDS >= next_report)); then
    next_report=$((SECONDS + every))
    ((announced)) || echo "[build] $what: not cached yet, building (output above/below is the build's own)" >&2
    announced=1
    report
  fi
done
status=0
wait "$pid" || status=$?
if ((announced)); then
  s=$((SECONDS - start))
  if ((status == 0)); then
    printf '[build] %s: done in %dm%02ds\n' "$what" $((s / 60)) $((s % 60)) >&2
  else
    printf '[build] %s: FAILED after %dm%02ds (exit %d)\n' "$what" $((s / 60)) $((s % 60)) "$status" >&2
  fi
fi
exit "$status"
