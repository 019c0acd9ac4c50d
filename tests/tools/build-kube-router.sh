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

command -v go >/dev/null || { echo "error: Go is needed to build kube-router $version" >&2; exit 2; }
export GOFLAGS="-buildvcs=false"
export CGO_ENABLED=0

mkdir -p "$dir"
echo "building kube-router $version into $dir (first time only; takes a few minutes)" >&2
# Inside a copy of the module with its own go.mod/go.sum, as its release does (and as
# build-kube-bench.sh does: `go install module@version` asks the proxy for a version list).
src="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
[[ -f "$src/go.mod" ]] || { echo "error: could not download $module@$version from the Go module proxy" >&2; exit 1; }
work="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -R "$src/." "$work/src"
chmod -R u+w "$work/src"
(cd "$work/src" && go build -mod=readonly -trimpath \
  -ldflags "-s -w -X $module/pkg/version.Version=$version" -o "$work/kube-router" ./cmd/kube-router)
mv "$work/kube-router" "$dir/kube-router"
echo "$dir/kube-router"
