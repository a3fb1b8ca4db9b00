# shellcheck shell=bash
# Shared settings for hack/cluster-up, hack/cluster-down, hack/build-image, hack/cluster-smoke.
# Sourced, never run.

K8S_HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
. "$K8S_HACK_DIR/versions.env"

CACHE=${MLCYCLE_CACHE:-$HOME/.cache/mlcycle}
STATE=${MLCYCLE_STATE_CLUSTER:-/tmp/mlcycle-cluster}
BIN=$CACHE/bin
KUBECONFIG_PATH=$STATE/kubeconfig
NODE_NAME=${MLCYCLE_NODE_NAME:-mlcycle-node}
SERVICE_CIDR=10.96.0.0/16
KUBERNETES_SVC_IP=10.96.0.1
DNS_SVC_IP=10.96.0.10
CLUSTER_CIDR=10.244.0.0/16
POD_SUBNET=10.244.0.0/24
CLUSTER_DOMAIN=cluster.local
CNI_BRIDGE=mlcycle0
APISERVER_PORT=${MLCYCLE_APISERVER_PORT:-6443}
ETCD_CLIENT_PORT=${MLCYCLE_ETCD_PORT:-2379}
ETCD_PEER_PORT=$((ETCD_CLIENT_PORT + 1))
COREDNS_PORT=10053
CONTAINERD_SOCK=$STATE/containerd/containerd.sock
CNI_BIN_DIR=${MLCYCLE_CNI_BIN_DIR:-/usr/lib/cni}
# Host ports of hack/services-up (same env names), exposed in the cluster as postgres/minio.mlcycle-system.svc.
PG_HOST_PORT=${MLCYCLE_PG_PORT:-55432}
MINIO_HOST_PORT=${MLCYCLE_S3_PORT:-59000}

# The host's primary IPv4 address (the one on the default route's interface).
host_ip() {
  if [ -n "${MLCYCLE_HOST_IP:-}" ]; then echo "$MLCYCLE_HOST_IP"; return; fi
  local dev
  dev=$(ip -4 route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit }}')
  if [ -n "$dev" ]; then
    ip -4 -o addr show dev "$dev" scope global | awk '{split($4, a, "/"); print a[1]; exit}'
  else
    hostname -I | awk '{print $1}'
  fi
}

klog() { printf '[%s %s] %s\n' "$(basename "$0")" "$(date +%H:%M:%S)" "$*" >&2; }

# True if PID is a live process (a zombie, which nobody may reap here, is not).
proc_running() { [ -r "/proc/$1/stat" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]; }

# True if the daemon NAME started by cluster-up runs: its pid file names a live process
# (not a zombie) whose command line mentions NAME (so a reused pid never counts).
pid_alive() { # NAME
  local f=$STATE/pids/$1.pid pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  [ -n "$pid" ] && proc_running "$pid" || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$1"
}

# One cluster-up / cluster-down at a time (several people and tests share the machine).
# Children (cluster-up calling cluster-down) inherit the lock.
take_cluster_lock() {
  [ -n "${MLCYCLE_CLUSTER_LOCK_HELD:-}" ] && return 0
  exec 9> "$STATE.lock"
  if ! flock -n 9; then
    klog "waiting for another cluster-up/cluster-down on $STATE to finish"
    flock -w 3600 9 || { echo "$(basename "$0"): $STATE.lock still held after 3600 s" >&2; exit 1; }
  fi
  export MLCYCLE_CLUSTER_LOCK_HELD=1
}

kc() { "$BIN/kubectl" --kubeconfig "$KUBECONFIG_PATH" "$@"; }
