#!/usr/bin/env bash
# Stop the local control plane started by up.sh.
#
# Usage: down.sh [--purge] [STATE_DIR]     (default: <repo>/.cluster)
#   --purge   also remove STATE_DIR (etcd data, pki, logs, kubeconfig)
#
# Sends TERM, waits up to SLO_CLUSTER_STOP_TIMEOUT seconds (default 15), then KILLs.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
purge=0
STATE_DIR=""
for arg in "$@"; do
  case "$arg" in
    --purge) purge=1 ;;
    -h|--help) sed -n '2,7p' "$0"; exit 0 ;;
    -*) echo "down.sh: unknown option: $arg" >&2; exit 2 ;;
    *) STATE_DIR=$arg ;;
  esac
done
STATE_DIR="${STATE_DIR:-$REPO/.cluster}"
STOP_TIMEOUT="${SLO_CLUSTER_STOP_TIMEOUT:-15}"

log() { echo "[cluster-down] $*" >&2; }

if [[ ! -d "$STATE_DIR" ]]; then
  log "nothing to do: $STATE_DIR does not exist"
  exit 0
fi
STATE_DIR="$(cd "$STATE_DIR" && pwd)"
if [[ ! -e "$STATE_DIR/.slo-cluster" ]]; then
  echo "down.sh: $STATE_DIR is not a cluster state dir (no .slo-cluster marker)" >&2
  exit 1
fi
exec 9>"$STATE_DIR/.lock"
flock -w 120 9 || { echo "down.sh: another up.sh/down.sh holds $STATE_DIR/.lock" >&2; exit 1; }

# pid_of NAME: the pid from NAME.pid if that process is alive and really is NAME.
pid_of() {
  local pidf="$STATE_DIR/$1.pid" pid argv0
  [[ -f "$pidf" ]] || return 1
  pid=$(<"$pidf")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1) || return 1
  [[ "$(basename -- "$argv0")" == "$1" ]] || return 1
  echo "$pid"
}

# alive PID: exists and is not a zombie waiting to be reaped.
alive() {
  kill -0 "$1" 2>/dev/null || return 1
  local st
  st=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [[ -n "$st" && "$st" != Z ]]
}

stop() {
  local name=$1 pid
  if ! pid=$(pid_of "$name"); then
    rm -f "$STATE_DIR/$name.pid"
    return 0
  fi
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$(( $(date +%s) + STOP_TIMEOUT ))
  while alive "$pid"; do
    if (( $(date +%s) >= deadline )); then
      log "$name did not exit within ${STOP_TIMEOUT}s: KILL"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.1
  done
  # Reap check: wait until it is really gone (KILL cannot be ignored).
  for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
  rm -f "$STATE_DIR/$name.pid"
}

# Reverse start order: the node first (while the API server still answers), etcd last.
if [[ -d "$STATE_DIR/node" ]]; then
  "$HERE/node.sh" down "$STATE_DIR"
fi
stop kube-controller-manager
stop kube-apiserver
stop etcd

if ((purge)); then
  log "removing $STATE_DIR"
  exec 9>&-
  rm -rf -- "$STATE_DIR"
fi
log "down"
