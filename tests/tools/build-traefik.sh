#!/usr/bin/env bash
# Builds Traefik (v3: an Ingress and a Gateway API controller) from the Go module proxy into a cache
# keyed by version. The one-node cluster runs it so that the node tier shows what a real controller
# serves for what `kubectl tls-ingress create` made (ingress-nginx is retired; Traefik implements both
# paths and builds from modules alone).
#
# Usage: tests/tools/build-traefik.sh     build what is missing, print the binary's path
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
#        TRAEFIK_VERSION (default below: v3.7 needs modules the Go proxy here refuses, lego v5 DNS providers)
set -euo pipefail

version="${TRAEFIK_VERSION:-v3.6.12}"
module="github.com/traefik/traefik/v3"
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
dir="$cache/traefik-$version"

if [[ -x "$dir/traefik" ]]; then
  echo "$dir/traefik"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to build Traefik $version" >&2; exit 2; }
export GOFLAGS="-buildvcs=false"
export CGO_ENABLED=0

mkdir -p "$dir"
echo "building Traefik $version into $dir (first time only; takes several minutes)" >&2
# Inside a copy of the module with its own go.mod/go.sum, as build-kube-router.sh does. The web UI's
# built assets are not in the module (webui/static holds a placeholder): the dashboard is not needed.
src="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
[[ -f "$src/go.mod" ]] || { echo "error: could not download $module@$version from the Go module proxy" >&2; exit 1; }
work="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -R "$src/." "$work/src"
chmod -R u+w "$work/src"
(cd "$work/src" && go build -mod=readonly -trimpath \
  -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$version" -o "$work/traefik" ./cmd/traefik)
mv "$work/traefik" "$dir/traefik"
echo "$dir/traefik"
