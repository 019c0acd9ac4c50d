#!/usr/bin/env bash
# Starts kube-router's firewall (NetworkPolicy enforcement only) inside the node's namespaces; run
# by node.sh and again by tests that stop and restart it (through nsenter into the node).
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
source "$dir/env"
"$KUBE_ROUTER" --kubeconfig="$dir/kube-router.kubeconfig" --hostname-override="$NODE_NAME" \
  --run-firewall=true --run-router=false --run-service-proxy=false --enable-ipv6=false \
  --metrics-port=0 --health-port=0 -v=1 > "$dir/kube-router.log" 2>&1 &
echo $! > "$dir/kube-router.pid"
