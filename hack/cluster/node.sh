#!/usr/bin/env bash
# One node for the local control plane: containerd (Debian's containerd + runc + CNI plugins) with its
# own root, state and socket under STATE_DIR/node, kube-scheduler, and a kubelet on 127.0.0.1 only.
# Called by up.sh when SLO_NODE=1 (`make cluster-up NODE=1`), after the control plane is ready.
#
# Usage: node.sh up STATE_DIR        start (or check) the node; load the project's images
#        node.sh down STATE_DIR      stop pods, kubelet, scheduler and containerd; unmount; clean state
#        node.sh load STATE_DIR ARCHIVE...   import OCI archives into the node's containerd
#
# What this machine needs (found by trying): containerd `restrict_oom_score_adj = true` (root lacks
# CAP_SYS_RESOURCE), a locally built pause image as sandbox_image (nothing can be pulled), a CNI config
# (loopback only: pods use host networking), kubelet `cgroupDriver: cgroupfs` and `failSwapOn: false`.
#
# Environment: SLO_NODE_IMAGES   space-separated OCI archives to load (up.sh passes the built images)
#              SLO_CLUSTER_TIMEOUT seconds to wait for the node to be Ready (default 180)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
action=${1:?usage: node.sh up|down|load STATE_DIR}
STATE_DIR="$(cd "${2:?usage: node.sh up|down|load STATE_DIR}" && pwd)"
shift 2
NODE="$STATE_DIR/node"
# The node is called localhost: the API server reaches a kubelet at its Hostname address (the kubelet
# refuses a loopback --node-ip), and localhost is the name that resolves to 127.0.0.1, where it listens.
NODE_NAME=localhost
KUBECTL="${KUBECTL:-$(command -v kubectl || echo /usr/bin/kubectl)}"
TIMEOUT="${SLO_CLUSTER_TIMEOUT:-180}"
PKI="$STATE_DIR/pki"
SOCK="$NODE/containerd/containerd.sock"
CNI_BIN=/usr/lib/cni
T0=$(date +%s%N)

log() { echo "[node] $*" >&2; }
# shellcheck source=../lib/pki.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/pki.sh"
die() { echo "[node] ERROR: $*" >&2; exit 1; }
elapsed() { echo "$(( ($(date +%s%N) - T0) / 1000000 ))ms"; }
kc() { "$KUBECTL" --kubeconfig "$STATE_DIR/kubeconfig" "$@"; }
ctr_() { ctr --address "$SOCK" --namespace k8s.io "$@"; }

running() { # NAME: STATE_DIR/NAME.pid names a live process whose argv[0] ends in NAME
  local pidf="$STATE_DIR/$1.pid" pid argv0
  [[ -f "$pidf" ]] || return 1
  pid=$(<"$pidf")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1) || return 1
  [[ "$(basename -- "$argv0")" == "$1" ]]
}

start() { # NAME BINARY ARGS...: detached (own session), log + pid file in STATE_DIR
  local name=$1 bin=$2; shift 2
  log "starting $name (log: $STATE_DIR/$name.log)"
  echo "---- $(date -Is) starting $name" >>"$STATE_DIR/$name.log"
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$STATE_DIR/$name.pid" "$bin" "$@" \
    </dev/null >>"$STATE_DIR/$name.log" 2>&1 9>&- &
  for _ in $(seq 50); do [[ -s "$STATE_DIR/$name.pid" ]] && break; sleep 0.02; done
}

DEADLINE=$(( $(date +%s) + TIMEOUT ))
wait_until() { # DESCRIPTION CMD...
  local what=$1; shift
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= DEADLINE )); then
      for n in containerd kubelet kube-scheduler; do
        [[ -f "$STATE_DIR/$n.log" ]] && { echo "--- $n.log" >&2; tail -n 15 "$STATE_DIR/$n.log" >&2; }
      done
      die "timed out after ${TIMEOUT}s waiting for $what"
    fi
    for n in containerd kubelet kube-scheduler; do
      if [[ -f "$STATE_DIR/$n.pid" ]] && ! running "$n"; then
        tail -n 30 "$STATE_DIR/$n.log" >&2 || true
        die "$n exited while waiting for $what (see $STATE_DIR/$n.log)"
      fi
    done
    sleep 0.3
  done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { local p=$1; while port_busy "$p"; do p=$((p + 1)); done; echo "$p"; }

# ---- certificates --------------------------------------------------------------------------------
node_pki() {
  [[ -s "$PKI/kubelet.crt" && -s "$PKI/kubelet-client.crt" && -s "$PKI/kube-scheduler.crt" ]] && return 0
  log "issuing kubelet (serving + client) and kube-scheduler certificates"
  issue_cert kubelet "/CN=$NODE_NAME" serverAuth "IP:127.0.0.1,DNS:localhost"
  issue_cert kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" clientAuth
  issue_cert kube-scheduler "/CN=system:kube-scheduler" clientAuth
}

kubeconfig_for() { # USER FILE
  local server
  server=$(sed -n 's/^[[:space:]]*server: //p' "$STATE_DIR/kubeconfig" | head -n1)
  cat >"$2.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: slo-dev
  cluster: {server: "$server", certificate-authority: "$PKI/ca.crt"}
users:
- name: $1
  user: {client-certificate: "$PKI/$1.crt", client-key: "$PKI/$1.key"}
contexts:
- name: slo-dev
  context: {cluster: slo-dev, user: $1}
current-context: slo-dev
EOF
  chmod 0600 "$2.tmp"; mv -f "$2.tmp" "$2"
}

# ---- containerd ----------------------------------------------------------------------------------
PAUSE_IMAGE=docker.io/slo-operator/pause:3.10

containerd_config() {
  mkdir -p "$NODE/containerd" "$NODE/cni"
  cat >"$NODE/cni/10-slo-loopback.conflist" <<'EOF'
{"cniVersion": "0.4.0", "name": "slo-loopback", "plugins": [{"type": "loopback"}]}
EOF
  cat >"$NODE/containerd/config.toml" <<EOF
# Generated by hack/cluster/node.sh: containerd for the local node only (own root, state, socket).
version = 2
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$NODE/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # root here lacks CAP_SYS_RESOURCE: lowering oom_score_adj below the parent's fails every sandbox.
  restrict_oom_score_adj = true
  disable_apparmor = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$CNI_BIN"
    conf_dir = "$NODE/cni"
EOF
}

# ---- images ----------------------------------------------------------------------------------------
load_images() { # ARCHIVE...: import what is not loaded yet (archives are content-hash named)
  local archive stamp="$NODE/images.loaded"
  touch "$stamp"
  for archive in "$@"; do
    [[ -f "$archive" ]] || die "no image archive $archive"
    if grep -qxF "$archive" "$stamp"; then continue; fi
    log "importing $(basename "$archive") into the node's containerd"
    ctr_ images import "$archive" >&2
    echo "$archive" >>"$stamp"
  done
}

# ---- up ------------------------------------------------------------------------------------------------
node_up() {
  eval "$("$HERE/build.sh" --node --env)"
  local bin="$K8S_BIN_DIR"
  for tool in containerd runc ctr; do
    command -v "$tool" >/dev/null || die "$tool not found: make node-packages (Debian containerd, runc, containernetworking-plugins)"
  done
  [[ -x "$CNI_BIN/loopback" ]] || die "$CNI_BIN/loopback not found: make node-packages"
  mkdir -p "$NODE"
  node_pki
  kubeconfig_for kubelet-client "$NODE/kubelet.kubeconfig"
  kubeconfig_for kube-scheduler "$STATE_DIR/kube-scheduler.kubeconfig"
  mkdir -p "$NODE/kubelet" "$NODE/pod-logs"

  if ! running containerd; then
    containerd_config
    rm -f "$SOCK"
    start containerd "$(command -v containerd)" --config "$NODE/containerd/config.toml" --log-level warn
  fi
  wait_until "containerd socket" ctr --address "$SOCK" version
  log "containerd ready ($(elapsed))"
  load_images "$NODE_PAUSE_ARCHIVE" ${SLO_NODE_IMAGES:-}

  if ! running kube-scheduler; then
    start kube-scheduler "$bin/kube-scheduler" \
      --kubeconfig="$STATE_DIR/kube-scheduler.kubeconfig" \
      --authentication-kubeconfig="$STATE_DIR/kube-scheduler.kubeconfig" \
      --authorization-kubeconfig="$STATE_DIR/kube-scheduler.kubeconfig" \
      --leader-elect=false --bind-address=127.0.0.1 --secure-port=0 --profiling=false --v=1
  fi

  local ports="$NODE/ports.env" KUBELET_PORT=""
  # shellcheck disable=SC1090
  [[ -f "$ports" ]] && source "$ports"
  if ! running kubelet; then
    if [[ -z "$KUBELET_PORT" ]] || port_busy "$KUBELET_PORT"; then KUBELET_PORT=$(pick_port 20250); fi
    echo "KUBELET_PORT=$KUBELET_PORT" >"$ports"
    cat >"$NODE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $KUBELET_PORT
readOnlyPort: 0
healthzPort: 0
containerRuntimeEndpoint: unix://$SOCK
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
localStorageCapacityIsolation: false
podLogsDir: $NODE/pod-logs
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization:
  mode: Webhook
# A developer machine's disk and memory are shared: never evict the pods of this node for them.
evictionHard: {memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
maxPods: 40
resolvConf: /etc/resolv.conf
registerNode: true
# Only pods that tolerate this taint run here (the chart values up.sh writes add the toleration): the
# StatefulSets prometheus-operator creates for its Prometheus/Alertmanager resources would otherwise land
# here and try to pull images from the internet.
registerWithTaints:
- {key: slo-operator.dev/local-node, value: "true", effect: NoSchedule}
EOF
    start kubelet "$bin/kubelet" \
      --config="$NODE/kubelet.yaml" \
      --kubeconfig="$NODE/kubelet.kubeconfig" \
      --root-dir="$NODE/kubelet" \
      --hostname-override="$NODE_NAME" \
      --v=1
  fi
  wait_until "node $NODE_NAME Ready" node_ready
  log "node $NODE_NAME Ready, kubelet on 127.0.0.1:$KUBELET_PORT ($(elapsed))"
}

node_ready() {
  [[ "$(kc get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" == True ]] &&
    ! kc get node "$NODE_NAME" -o jsonpath='{.spec.taints[*].key}' | grep -q not-ready
}

# ---- down --------------------------------------------------------------------------------------------
stop_pid() { # NAME
  local name=$1 pid
  running "$name" || { rm -f "$STATE_DIR/$name.pid"; return 0; }
  pid=$(<"$STATE_DIR/$name.pid")
  log "stopping $name (pid $pid)"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$STATE_DIR/$name.pid"
}

node_down() {
  [[ -d "$NODE" ]] || return 0
  stop_pid kubelet
  stop_pid kube-scheduler
  if running containerd; then
    local id
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$id" >/dev/null 2>&1 || true; done
    sleep 0.5
    for id in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$id" >/dev/null 2>&1 || true; done
    for id in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers rm "$id" >/dev/null 2>&1 || true; done
  fi
  stop_pid containerd
  # Shims of this containerd (their -address is our socket), if any survived.
  local pid
  for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" 2>/dev/null || true); do
    log "killing leftover shim $pid"; kill -KILL "$pid" 2>/dev/null || true
  done
  # Mounts under the node's directory (pod volumes, snapshots, sandbox shm), deepest first.
  local mount
  while read -r mount; do
    umount "$mount" 2>/dev/null || umount -l "$mount" 2>/dev/null || log "cannot unmount $mount"
  done < <(awk -v p="$NODE/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r)
  # Runtime state goes; the image store (containerd/root) stays unless purged with the cluster.
  rm -rf "$NODE/containerd/state" "$NODE/kubelet" "$NODE/pod-logs"
  kc delete node "$NODE_NAME" --wait=false >/dev/null 2>&1 || true
  log "node stopped"
}

case "$action" in
  up)
    NODE_PAUSE_ARCHIVE=$("$HERE/../images/build.py" pause)
    node_up ;;
  down) node_down ;;
  load) mkdir -p "$NODE"; load_images "$@" ;;
  *) die "unknown action $action" ;;
esac
