#!/usr/bin/env bash
# Start (or check) a local, container-free Kubernetes control plane:
#   etcd + kube-apiserver + kube-controller-manager, built by hack/cluster/build.sh,
# then install our CRDs (crds/*.yaml) and the prometheus-operator CRDs.
#
# Usage: up.sh [STATE_DIR]         (default: <repo>/.cluster)
#   With SLO_NODE=1 (`make cluster-up NODE=1`) it also starts one node (hack/cluster/node.sh: containerd,
#   kubelet, kube-scheduler), loads SLO_NODE_IMAGES into it and writes STATE_DIR/node-values.yaml, the
#   chart values for this cluster (hostNetwork, API server address).
#
# STATE_DIR holds pki/, etcd data, logs (*.log), pid files (*.pid) and the admin `kubeconfig`.
# Idempotent: if the cluster in STATE_DIR is already up and ready, it only (re)applies the CRDs.
# Processes not running are (re)started; data in STATE_DIR is kept across down.sh/up.sh.
#
# Environment (all optional):
#   SLO_CACHE                 build cache (see build.sh)
#   SLO_ETCD_PORT             etcd client port     (default 23790; a free one is picked if busy)
#   SLO_ETCD_PEER_PORT        etcd peer port       (default 23800; idem)
#   SLO_APISERVER_PORT        kube-apiserver port  (default 26443; idem)
#     Ports chosen once are remembered in STATE_DIR/ports.env. An explicitly set port is used as is.
#   SLO_SERVICE_CIDR          --service-cluster-ip-range (default 10.0.0.0/24; virtual, no traffic)
#   SLO_CLUSTER_TIMEOUT       seconds to wait for readiness (default 180)
#   SLO_ETCD_UNSAFE_NO_FSYNC  "true" (default) trades durability for speed; set "false" to fsync
#   SLO_APISERVER_EXTRA_ARGS  more kube-apiserver flags, word-split (e.g. --audit-policy-file=... --audit-log-path=...)
#   KUBECTL                   kubectl binary (default: kubectl in PATH)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
STATE_DIR="${1:-$REPO/.cluster}"
mkdir -p "$STATE_DIR"
STATE_DIR="$(cd "$STATE_DIR" && pwd)"
KUBECTL="${KUBECTL:-$(command -v kubectl || echo /usr/bin/kubectl)}"
TIMEOUT="${SLO_CLUSTER_TIMEOUT:-180}"
SERVICE_CIDR="${SLO_SERVICE_CIDR:-10.0.0.0/24}"
T0=$(date +%s%N)

log() { echo "[cluster-up] $*" >&2; }
# shellcheck source=../lib/pki.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/pki.sh"
die() { echo "[cluster-up] ERROR: $*" >&2; exit 1; }
elapsed() { echo "$(( ($(date +%s%N) - T0) / 1000000 ))ms"; }

eval "$("$HERE/build.sh" --env)"
BIN="$K8S_BIN_DIR"

touch "$STATE_DIR/.slo-cluster"   # marker: down.sh --purge only removes directories carrying it
exec 9>"$STATE_DIR/.lock"
flock -w "$TIMEOUT" 9 || die "another up.sh/down.sh holds $STATE_DIR/.lock"

PKI="$STATE_DIR/pki"
KUBECONFIG_OUT="$STATE_DIR/kubeconfig"

# ---- process helpers -----------------------------------------------------------------------------
# running NAME: true if STATE_DIR/NAME.pid names a live process whose argv[0] is our NAME binary.
running() {
  local pidf="$STATE_DIR/$1.pid" pid
  [[ -f "$pidf" ]] || return 1
  pid=$(<"$pidf")
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  local argv0
  argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1) || return 1
  [[ "$(basename -- "$argv0")" == "$1" ]]
}

# start NAME ARGS...: runs $BIN/NAME detached (own session) with log + pid file in STATE_DIR.
start() {
  local name=$1; shift
  log "starting $name (log: $STATE_DIR/$name.log)"
  {
    echo "---- $(date -Is) starting $name"
  } >>"$STATE_DIR/$name.log"
  # shellcheck disable=SC2016  # expanded by the inner bash
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$STATE_DIR/$name.pid" "$BIN/$name" "$@" \
    </dev/null >>"$STATE_DIR/$name.log" 2>&1 9>&- &
  for _ in $(seq 50); do [[ -s "$STATE_DIR/$name.pid" ]] && break; sleep 0.02; done
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() { # default -> first free port at or above it
  local p=$1
  while port_busy "$p" || [[ " $PICKED " == *" $p "* ]]; do p=$((p + 1)); done
  PICKED+=" $p"
  echo "$p"
}

# wait_until DESCRIPTION CMD...: polls CMD until it succeeds or the deadline passes.
DEADLINE=$(( $(date +%s) + TIMEOUT ))
wait_until() {
  local what=$1; shift
  until "$@" >/dev/null 2>&1; do
    if (( $(date +%s) >= DEADLINE )); then
      log "timed out after ${TIMEOUT}s waiting for $what; last log lines:"
      tail -n 20 "$STATE_DIR"/*.log >&2 || true
      die "timed out waiting for $what"
    fi
    for n in etcd kube-apiserver kube-controller-manager; do
      if [[ -f "$STATE_DIR/$n.pid" ]] && ! running "$n"; then
        tail -n 30 "$STATE_DIR/$n.log" >&2 || true
        die "$n exited while waiting for $what (see $STATE_DIR/$n.log)"
      fi
    done
    sleep 0.2
  done
}

kc() { "$KUBECTL" --kubeconfig "$KUBECONFIG_OUT" "$@"; }

# Forget pid files of processes that are gone (crash, reboot, kill -9).
for n in etcd kube-apiserver kube-controller-manager; do
  running "$n" || rm -f "$STATE_DIR/$n.pid"
done

# ---- ports ---------------------------------------------------------------------------------------
PORTS_FILE="$STATE_DIR/ports.env"
ETCD_PORT="" ETCD_PEER_PORT="" APISERVER_PORT=""
# shellcheck disable=SC1090
[[ -f "$PORTS_FILE" ]] && source "$PORTS_FILE"
PICKED=""
choose_port() { # VAR ENV_OVERRIDE DEFAULT OWNER_PROCESS
  local var=$1 override=$2 default=$3 owner=$4 cur=${!1}
  if [[ -n "$override" ]]; then
    cur=$override
  elif [[ -z "$cur" ]] || { ! running "$owner" && port_busy "$cur"; }; then
    cur=$(pick_port "${cur:-$default}")
  fi
  PICKED+=" $cur"
  printf -v "$var" '%s' "$cur"
}
choose_port ETCD_PORT "${SLO_ETCD_PORT:-}" 23790 etcd
choose_port ETCD_PEER_PORT "${SLO_ETCD_PEER_PORT:-}" 23800 etcd
choose_port APISERVER_PORT "${SLO_APISERVER_PORT:-}" 26443 kube-apiserver
printf 'ETCD_PORT=%s\nETCD_PEER_PORT=%s\nAPISERVER_PORT=%s\n' "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" \
  >"$PORTS_FILE"

# ---- pki ------------------------------------------------------------------------------------------
gen_pki() {
  [[ -s "$PKI/ca.crt" && -s "$PKI/sa.key" && -s "$PKI/admin.crt" && -s "$PKI/kube-controller-manager.crt" &&
    -s "$PKI/kube-apiserver.crt" ]] && return 0
  log "generating CA, serving/client certificates and service-account key in $PKI"
  rm -rf "$PKI"; mkdir -p "$PKI"; chmod 0700 "$PKI"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 3650 \
    -subj "/CN=slo-operator-dev-ca" -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" 2>/dev/null
  # First IP of the service range: the ClusterIP of the `kubernetes` service.
  local base=${SERVICE_CIDR%/*} svc_ip
  svc_ip="${base%.*}.$(( ${base##*.} + 1 ))"
  issue_cert kube-apiserver "/CN=kube-apiserver" serverAuth \
    "IP:127.0.0.1,IP:::1,IP:$svc_ip,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  issue_cert admin "/O=system:masters/CN=admin" clientAuth
  issue_cert kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  chmod 0600 "$PKI"/*.key
}
gen_pki
# The API server's client certificate for kubelets (`kubectl logs/exec`): system:masters passes the
# kubelet's webhook authorization.
[[ -s "$PKI/apiserver-kubelet-client.crt" ]] ||
  issue_cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" clientAuth

write_kubeconfig() { # FILE USER
  local file=$1 user=$2 tmp="$1.tmp.$$"
  cat >"$tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: slo-dev
  cluster:
    server: https://127.0.0.1:$APISERVER_PORT
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $user
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$user.crt")
    client-key-data: $(base64 -w0 <"$PKI/$user.key")
contexts:
- name: slo-dev
  context:
    cluster: slo-dev
    user: $user
    namespace: default
current-context: slo-dev
EOF
  chmod 0600 "$tmp"
  mv -f "$tmp" "$file"
}
write_kubeconfig "$KUBECONFIG_OUT" admin
write_kubeconfig "$STATE_DIR/kube-controller-manager.kubeconfig" kube-controller-manager

# ---- fast path: already up -----------------------------------------------------------------------
# all_established NAMES: every named CRD exists and has condition Established=True (one cheap GET).
all_established() {
  local got
  # shellcheck disable=SC2086
  got=$(kc get $1 -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Established")].status}{"\n"}{end}' \
    2>/dev/null) || return 1
  [[ "$(grep -c '^True$' <<<"$got")" == "$(wc -l <<<"$1")" ]]
}

apply_crds() {
  local files=() paths=() f
  for f in "$REPO"/crds/*.yaml "$REPO"/crds/*.yml "$PROM_OPERATOR_CRD_DIR"/*.yaml; do
    [[ -f "$f" ]] && files+=(-f "$f") && paths+=("$f")
  done
  ((${#files[@]})) || return 0
  # Skip the (slow, ~3s) apply when exactly these files were applied to this cluster before and their
  # CRDs are still Established. SLO_FORCE_CRD_APPLY=1 always applies.
  local stamp="$STATE_DIR/crds.applied" sum names
  sum=$(sha256sum "${paths[@]}" | sha256sum | cut -d' ' -f1)
  if [[ "${SLO_FORCE_CRD_APPLY:-0}" != 1 && -f "$stamp" && "$(head -n1 "$stamp")" == "$sum" ]]; then
    names=$(tail -n +2 "$stamp")
    if [[ -n "$names" ]] && all_established "$names"; then
      log "CRDs unchanged and established ($(wc -l <<<"$names")) ($(elapsed))"
      return 0
    fi
  fi
  rm -f "$stamp"
  names=$(kc apply --server-side --force-conflicts --field-manager=slo-cluster-up -o name "${files[@]}")
  names=$(grep '^customresourcedefinition' <<<"$names" || true)
  if [[ -n "$names" ]]; then
    local remaining=$(( DEADLINE - $(date +%s) ))
    # shellcheck disable=SC2086
    kc wait --for=condition=Established --timeout="$(( remaining > 5 ? remaining : 5 ))s" $names >/dev/null
  fi
  printf '%s\n%s\n' "$sum" "$names" >"$stamp"
  log "applied and established $(wc -l <<<"$names") CRDs ($(elapsed))"
}

node_up() {
  [[ "${SLO_NODE:-0}" == 1 ]] || return 0
  "$HERE/node.sh" up "$STATE_DIR"
  {
    echo "# Chart values for the local cluster in $STATE_DIR (written by hack/cluster/up.sh):"
    echo "#   helm install slo-operator helm/slo-operator -n slo-system --create-namespace -f $STATE_DIR/node-values.yaml"
    echo "# No pod network and no kube-proxy here: pods use the host's network and reach the API server on loopback."
    echo "hostNetwork: true"
    echo "# One node and host ports: a second replica could not bind the health port."
    echo "replicaCount: 1"
    echo "apiServer:"
    echo "  host: 127.0.0.1"
    echo "  port: $APISERVER_PORT"
    echo "# The node's taint keeps pods of other charts (e.g. prometheus-operator's StatefulSets) off it."
    echo "tolerations:"
    echo "- {key: slo-operator.dev/local-node, operator: Exists, effect: NoSchedule}"
  } >"$STATE_DIR/node-values.yaml"
  log "node ready; chart values for it: $STATE_DIR/node-values.yaml"
}

# An API server started before the node existed lacks the kubelet client flags (`kubectl logs`).
if [[ "${SLO_NODE:-0}" == 1 ]] && running kube-apiserver &&
  ! tr '\0' '\n' <"/proc/$(<"$STATE_DIR/kube-apiserver.pid")/cmdline" | grep -q -- '--kubelet-client-certificate'; then
  log "restarting kube-apiserver with the kubelet client certificate"
  kill -TERM "$(<"$STATE_DIR/kube-apiserver.pid")" 2>/dev/null || true
  for _ in $(seq 150); do running kube-apiserver || break; sleep 0.1; done
  rm -f "$STATE_DIR/kube-apiserver.pid"
fi

if running etcd && running kube-apiserver && running kube-controller-manager &&
  kc get --raw /readyz >/dev/null 2>&1; then
  log "cluster in $STATE_DIR already up"
  apply_crds
  node_up
  echo "$KUBECONFIG_OUT"
  exit 0
fi

# ---- etcd ----------------------------------------------------------------------------------------
etcd_healthy() { curl -fsS --max-time 2 "http://127.0.0.1:$ETCD_PORT/health" | grep -q '"health":"true"'; }
if ! running etcd; then
  port_busy "$ETCD_PORT" && die "etcd port $ETCD_PORT is in use by another process (set SLO_ETCD_PORT)"
  mkdir -p "$STATE_DIR/etcd"; chmod 0700 "$STATE_DIR/etcd"
  start etcd \
    --name=slo-dev \
    --data-dir="$STATE_DIR/etcd" \
    --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster="slo-dev=http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster-state=new \
    --unsafe-no-fsync="${SLO_ETCD_UNSAFE_NO_FSYNC:-true}" \
    --heartbeat-interval=50 --election-timeout=300 \
    --quota-backend-bytes=$((2 * 1024 * 1024 * 1024)) \
    --auto-compaction-mode=periodic --auto-compaction-retention=5m \
    --log-level=warn
fi
wait_until "etcd health" etcd_healthy
log "etcd ready on 127.0.0.1:$ETCD_PORT ($(elapsed))"

# ---- kube-apiserver ------------------------------------------------------------------------------
if ! running kube-apiserver; then
  port_busy "$APISERVER_PORT" &&
    die "kube-apiserver port $APISERVER_PORT is in use by another process (set SLO_APISERVER_PORT)"
  mkdir -p "$STATE_DIR/apiserver-certs"
  start kube-apiserver \
    --bind-address=127.0.0.1 \
    --secure-port="$APISERVER_PORT" \
    --advertise-address=127.0.0.1 \
    --cert-dir="$STATE_DIR/apiserver-certs" \
    --tls-cert-file="$PKI/kube-apiserver.crt" \
    --tls-private-key-file="$PKI/kube-apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
    --authorization-mode=Node,RBAC \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --allow-privileged=true \
    --endpoint-reconciler-type=none \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" \
    --kubelet-preferred-address-types=Hostname,InternalIP \
    --profiling=false \
    --v=1 \
    ${SLO_APISERVER_EXTRA_ARGS:-}  # e.g. an audit log for a benchmark on a throw-away cluster
fi

# The controller manager gives up when the API server is not healthy within seconds of its start
# (its identity is forbidden until the RBAC bootstrap roles exist): start it after /readyz.
wait_until "kube-apiserver /readyz" kc get --raw /readyz
log "kube-apiserver ready on https://127.0.0.1:$APISERVER_PORT ($(elapsed))"

# ---- kube-controller-manager ---------------------------------------------------------------------
if ! running kube-controller-manager; then
  start kube-controller-manager \
    --kubeconfig="$STATE_DIR/kube-controller-manager.kubeconfig" \
    --controllers='*' \
    --use-service-account-credentials=true \
    --root-ca-file="$PKI/ca.crt" \
    --service-account-private-key-file="$PKI/sa.key" \
    --cluster-signing-cert-file="$PKI/ca.crt" \
    --cluster-signing-key-file="$PKI/ca.key" \
    --leader-elect=false \
    --bind-address=127.0.0.1 \
    --secure-port=0 \
    --profiling=false \
    --v=1
fi

wait_until "namespace default" kc get namespace default
wait_until "serviceaccount default/default" kc -n default get serviceaccount default
log "controller-manager ready ($(elapsed))"

apply_crds
node_up
log "cluster up in $(elapsed); export KUBECONFIG=$KUBECONFIG_OUT"
echo "$KUBECONFIG_OUT"
