#!/usr/bin/env bash
# PID 1 of the one-node cluster. shared/testkit/src/node.rs starts it under
#   unshare --net --mount --pid --fork --kill-child --mount-proc --propagation slave
# so every process below lives in network, mount and PID namespaces of its own: pod traffic and
# kube-router's iptables rules never touch the host's network, the kubelet's mounts and sysctl
# writes stay inside, and killing this one process (by PID) makes the kernel kill all the others.
# It writes DIR/ready when the node is Ready for pods, DIR/failed with a reason otherwise.
#
# Usage: node.sh DIR      (DIR holds env, the certificates and configs written by node.rs)
set -Eeuo pipefail   # -E: the ERR trap below also fires inside functions
dir="$1"
# shellcheck source=/dev/null
source "$dir/env"   # BIN KUBE_ROUTER IMAGES NODE_NAME NODE_IP GW_IP METADATA_IP POD_CIDR
trap 'echo "node.sh failed at line $LINENO" > "$dir/failed"' ERR

# --- network: the node's IP on one end of a veth pair whose other end is in a "cloud" network
# namespace of its own (a gateway and the stand-in metadata server 169.254.169.254, as a cloud's
# would be: off the node, reached through its default route), so pods have a way out that goes
# through the node's FORWARD chain, where kube-router enforces egress, and nothing can leave: the
# cloud namespace has no other link.
ip link set lo up
unshare --net -- sleep infinity &
cloud=$!
echo "$cloud" > "$dir/cloud.pid"
# unshare has made the namespace once its /proc entry names another one than ours.
until [[ "$(readlink "/proc/$cloud/ns/net")" != "$(readlink /proc/self/ns/net)" ]]; do sleep 0.05; done
in_cloud() { nsenter --net="/proc/$cloud/ns/net" -- "$@"; }
ip link add kh-node type veth peer name kh-gw netns "$cloud"
ip addr add "$NODE_IP/24" dev kh-node
ip link set kh-node up
ip route add default via "$GW_IP" dev kh-node
in_cloud ip link set lo up
in_cloud ip addr add "$GW_IP/24" dev kh-gw
in_cloud ip addr add "$METADATA_IP/32" dev lo
in_cloud ip link set kh-gw up
in_cloud ip route add "$POD_CIDR" via "$NODE_IP" dev kh-gw
sysctl -qw net.ipv4.ip_forward=1
# Per network namespace on this kernel: bridged pod traffic goes through kube-router's iptables.
sysctl -qw net.bridge.bridge-nf-call-iptables=1

# --- mounts (private to this mount namespace): runtime state on tmpfs; /etc, /opt, /srv and
# /var/lib as copy-on-write overlays, so the kubelet, containerd and the kube-bench Job's hostPath
# volumes (/etc/kubernetes, /var/lib/etcd, /opt/cni/bin, ...) create what they need without
# writing to the host's files; and the host-wide sysctls the kubelet rewrites
# (vm.overcommit_memory, kernel.panic, ...) shadowed by files of ours.
mount -t tmpfs -o mode=755 tmpfs /run
for top in /etc /opt /srv /var/lib /var/log; do
  [[ -d "$top" ]] || continue
  layer="$dir/overlay/${top//\//_}"
  mkdir -p "$layer/upper" "$layer/work"
  mount -t overlay overlay -o "lowerdir=$top,upperdir=$layer/upper,workdir=$layer/work" "$top"
done
mkdir -p /var/lib/cni /var/log/pods /var/log/containers
mkdir -p "$dir/sysctl"
for key in vm/overcommit_memory vm/panic_on_oom kernel/panic kernel/panic_on_oops \
           kernel/keys/root_maxkeys kernel/keys/root_maxbytes; do
  [[ -e "/proc/sys/$key" ]] || continue
  file="$dir/sysctl/${key//\//.}"
  cat "/proc/sys/$key" > "$file"
  mount --bind "$file" "/proc/sys/$key"
done

# node.rs moves this process into the node's own cgroup, so that everything started from here on
# (and nothing of the host) is in it: wait for that before starting any component.
until [[ -e "$dir/joined" ]]; do sleep 0.05; done

start() { # name command...: runs in the background, logs to DIR/name.log, pid in DIR/name.pid
  local name="$1"; shift
  "$@" > "$dir/$name.log" 2>&1 &
  echo $! > "$dir/$name.pid"
}
wait_for() { # what seconds command...
  local what="$1" limit="$2"; shift 2
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= end)); then echo "$what not ready after ${limit}s" > "$dir/failed"; exit 1; fi
    sleep 0.2
  done
}
api() { curl -sfS --max-time 3 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" "https://$NODE_IP:6443$1"; }

start etcd "$BIN/etcd" --name=node --data-dir="$dir/etcd" \
  --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
  --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
  --initial-cluster=node=http://127.0.0.1:2380 --unsafe-no-fsync=true --log-level=error

start kube-apiserver "$BIN/kube-apiserver" --etcd-servers=http://127.0.0.1:2379 \
  --bind-address=0.0.0.0 --advertise-address="$NODE_IP" --secure-port=6443 \
  --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
  --client-ca-file="$dir/pki/ca.crt" --token-auth-file="$dir/tokens.csv" \
  --kubelet-client-certificate="$dir/pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$dir/pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$dir/pki/ca.crt" --kubelet-preferred-address-types=InternalIP \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
  --disable-admission-plugins=ServiceAccount \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$dir/pki/sa.pub" --service-account-signing-key-file="$dir/pki/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 --allow-privileged=true --endpoint-reconciler-type=none --v=0
wait_for kube-apiserver 90 api /readyz

start kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig="$dir/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$dir/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$dir/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10257 --leader-elect=false \
  --allocate-node-cidrs=true --cluster-cidr="$POD_CIDR" --node-cidr-mask-size=24 \
  --service-cluster-ip-range=10.96.0.0/16 --use-service-account-credentials=true \
  --service-account-private-key-file="$dir/pki/sa.key" --root-ca-file="$dir/pki/ca.crt" \
  --cluster-signing-cert-file="$dir/pki/ca.crt" --cluster-signing-key-file="$dir/pki/ca.key" \
  --v=0
start kube-scheduler "$BIN/kube-scheduler" --kubeconfig="$dir/scheduler.kubeconfig" \
  --authentication-kubeconfig="$dir/scheduler.kubeconfig" --authorization-kubeconfig="$dir/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port=10259 --leader-elect=false --v=0

start containerd containerd --config "$dir/containerd.toml"
wait_for containerd 30 ctr --address "$dir/containerd.sock" version
for image in "$IMAGES"/*.tar; do
  ctr --address "$dir/containerd.sock" -n k8s.io images import "$image" > /dev/null
done

# The kubelet's files where kubeadm puts them (in the overlays), so kube-bench's node checks find them
# (4.1.5/4.1.6 the kubeconfig, 4.1.9/4.1.10 the configuration) with kubeadm's modes.
install -D -m 600 "$dir/kubelet.yaml" /var/lib/kubelet/config.yaml
install -D -m 600 "$dir/kubelet.kubeconfig" /etc/kubernetes/kubelet.conf
start kubelet "$BIN/kubelet" --config=/var/lib/kubelet/config.yaml --kubeconfig=/etc/kubernetes/kubelet.conf \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --root-dir="$dir/kubelet" --v=1
# kube-router exits ("failed to identify the node") when started before its Node object exists.
wait_for "node $NODE_NAME" 150 api "/api/v1/nodes/$NODE_NAME"
# The one node is the control plane too: labelled so, `cis-bench run --targets master` schedules there.
curl -sfS --max-time 5 --cacert "$dir/pki/ca.crt" --cert "$dir/pki/admin.crt" --key "$dir/pki/admin.key" \
  -X PATCH -H 'Content-Type: application/merge-patch+json' \
  -d '{"metadata":{"labels":{"node-role.kubernetes.io/control-plane":""}}}' \
  "https://$NODE_IP:6443/api/v1/nodes/$NODE_NAME" > /dev/null
if [[ "${KUBE_ROUTER:-}" != none ]]; then
  bash "$dir/kube-router.sh"
fi

# The stand-in metadata server (what a cloud's 169.254.169.254 would be) for the a12 scenario.
mkdir -p "$dir/metadata/latest"
echo "stand-in instance credentials" > "$dir/metadata/latest/index.html"
cp "$dir/metadata/latest/index.html" "$dir/metadata/index.html"
start metadata in_cloud busybox httpd -f -p "$METADATA_IP:80" -h "$dir/metadata"

touch "$dir/started"
trap - ERR
# PID 1 stays, reaping orphans, until it is killed: that is how the whole node is stopped.
while true; do
  sleep 3600 &
  wait || true
done
