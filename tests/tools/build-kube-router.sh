#!/usr/bin/env bash
# Builds kube-router from the Go module proxy into a cache keyed by version. The one-node cluster
# runs only its firewall (the NetworkPolicy controller), so the node tier tests that policies are
# enforced on real packets. (kube-network-policies needs CONFIG_NFT_QUEUE, which this kernel lacks.)
#
# Usage: tests/tools/build-kube-router.sh     build what is missing, print the binary's path
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
#        KUBE_ROUTER_VERSION (default below, the newest v2 on the proxy when this was written)
set -euo pipefail

version="${KUBE_ROUTER_VERSION:-v2.1.0}"
module="github.com/cloudnativelabs/kube-router/v2"
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
dir="$cache/kube-router-$version"

if [[ -x "$dir/kube-router" ]]; then
  echo "$dir/kube-router"
  exit 0
fi

# shellcheck source=go-module.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-module.sh"
echo "building kube-router $version into $dir (first time only; takes a few minutes)" >&2
go_module_copy kube-router "$module" "$version" "$dir"
(cd "$WORK/src" && go build -mod=readonly -trimpath \
  -ldflags "-s -w -X $module/pkg/version.Version=$version" -o "$WORK/kube-router" ./cmd/kube-router)
mv "$WORK/kube-router" "$dir/kube-router"
echo "$dir/kube-router"
