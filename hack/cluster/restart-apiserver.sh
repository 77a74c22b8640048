#!/usr/bin/env bash
# Restart the local cluster's kube-apiserver, as an upgrade or a crash of the control plane would:
# SIGTERM the process, SIGKILL it when it has not exited after SLO_APISERVER_STOP_GRACE seconds
# (default 5: it stops listening at once but then waits up to 60 s for open connections), then start
# it again with the same flags (up.sh starts whatever is not running and waits for /readyz). Clients see
# their watch streams break and, resuming from a resourceVersion older than the new watch cache, 410 Gone.
#
# Usage: restart-apiserver.sh [STATE_DIR]   (default: <repo>/.cluster)
# Prints the seconds the API server was away (stop to /readyz) on stdout.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
STATE_DIR="$(cd "${1:-$HERE/../../.cluster}" && pwd)"
PIDF="$STATE_DIR/kube-apiserver.pid"
log() { echo "[restart-apiserver] $*" >&2; }

[[ -s "$PIDF" ]] || { log "no $PIDF: is the cluster in $STATE_DIR up?"; exit 1; }
pid=$(<"$PIDF")
T0=$(date +%s%N)
log "stopping kube-apiserver (pid $pid)"
kill -TERM "$pid"
GRACE="${SLO_APISERVER_STOP_GRACE:-5}"
for _ in $(seq "$((GRACE * 10))"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
  log "kube-apiserver still draining after ${GRACE}s; SIGKILL"
  kill -KILL "$pid"
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
fi
rm -f "$PIDF"
"$HERE/up.sh" "$STATE_DIR" >/dev/null
echo "$(( ($(date +%s%N) - T0) / 1000000 ))" | awk '{ printf "%.1f\n", $1 / 1000 }'
