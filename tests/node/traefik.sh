#!/usr/bin/env bash
# Starts Traefik (an Ingress and Gateway API controller) inside the node's namespaces, serving the
# node's ports 80 and 443; run by the tests that need a real controller, through nsenter into the
# node, once the Gateway API CRDs it watches are installed. traefik.yaml (written by node.rs, mode
# 600) points it at the API server with a token of its own.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
source "$dir/env"
# Its providers prefer $KUBECONFIG to the endpoint and token of traefik.yaml: the host's would not work here.
unset KUBECONFIG
"$TRAEFIK" --configfile="$dir/traefik.yaml" > "$dir/traefik.log" 2>&1 &
echo $! > "$dir/traefik.pid"
