#!/usr/bin/env bash
# Copies the Gateway API standard-channel CRDs of a pinned release from the sigs.k8s.io/gateway-api Go
# module (through the Go module proxy) into a cache keyed by version, so the tls-ingress tests
# install into their API server exactly the CRDs a cluster gets from that release.
#
# Usage: tests/tools/build-gateway-api-crds.sh   fetch what is missing, print the directory
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
#        GATEWAY_API_VERSION (default below)
# Output directory layout: <dir>/crds/gateway.networking.k8s.io_*.yaml (CustomResourceDefinitions only).
set -euo pipefail

# v1.7.0 needs Go 1.27 to be downloaded as a module; the toolchain here is 1.26.
version="${GATEWAY_API_VERSION:-v1.6.3}"
module="sigs.k8s.io/gateway-api"
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
dir="$cache/gateway-api-$version"

if [[ -f "$dir/crds/gateway.networking.k8s.io_gateways.yaml" ]]; then
  echo "$dir"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to fetch $module@$version" >&2; exit 2; }
info="$(go mod download -json "$module@$version" || true)"
src="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$info")"
if [[ -z "$src" ]]; then
  echo "error: could not download $module@$version from the Go module proxy:" >&2
  sed -n 's/^[[:space:]]*"Error": "\(.*\)",*$/  \1/p' <<<"$info" >&2
  exit 1
fi
standard="$src/config/crd/standard"
[[ -d "$standard" ]] || { echo "error: $module@$version has no config/crd/standard (looked in '$src')" >&2; exit 1; }

mkdir -p "$dir"
work="$(mktemp -d "$dir/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/crds"
# Only the CustomResourceDefinitions: the release's ValidatingAdmissionPolicy (safe upgrades) guards
# against mixing channels, which a fresh test API server cannot do.
for file in "$standard"/*.yaml; do
  if grep -q '^kind: CustomResourceDefinition' "$file"; then
    cp "$file" "$work/crds/"
  fi
done
[[ -f "$work/crds/gateway.networking.k8s.io_gateways.yaml" ]] || { echo "error: no Gateway CRD in $standard" >&2; exit 1; }
rm -rf "$dir/crds"
mv "$work/crds" "$dir/crds"
echo "$dir"
