#!/usr/bin/env bash
# Copies the CustomResourceDefinitions of the cluster tier above NetworkPolicy from the
# sigs.k8s.io/network-policy-api Go module (through the Go module proxy) into a cache keyed by
# version: AdminNetworkPolicy and BaselineAdminNetworkPolicy (v1alpha1, release v0.1.1) and
# ClusterNetworkPolicy (v1alpha2, release v0.3.0). The netpol-deny and block-metadata tests install
# them into an API server to show that an answer is marked incomplete while such objects exist.
#
# Usage: tests/tools/build-network-policy-api-crds.sh   fetch what is missing, print the directory
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
# Output directory layout: <dir>/crds/policy.networking.k8s.io_*.yaml
set -euo pipefail

module="sigs.k8s.io/network-policy-api"
# release:path of its CRDs
releases=("v0.1.1:config/crd" "v0.3.0:config/crd/standard")
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
dir="$cache/network-policy-api-v0.1.1-v0.3.0"

if [[ -f "$dir/crds/policy.networking.k8s.io_adminnetworkpolicies.yaml" \
   && -f "$dir/crds/policy.networking.k8s.io_clusternetworkpolicies.yaml" ]]; then
  echo "$dir"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to fetch $module" >&2; exit 2; }
mkdir -p "$dir"
work="$(mktemp -d "$dir/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/crds"
for release in "${releases[@]}"; do
  version="${release%%:*}"
  path="${release#*:}"
  info="$(go mod download -json "$module@$version" || true)"
  src="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$info")"
  if [[ -z "$src" ]]; then
    echo "error: could not download $module@$version from the Go module proxy:" >&2
    sed -n 's/^[[:space:]]*"Error": "\(.*\)",*$/  \1/p' <<<"$info" >&2
    exit 1
  fi
  for file in "$src/$path"/policy.networking.k8s.io_*.yaml; do
    grep -q '^kind: CustomResourceDefinition' "$file" && cp "$file" "$work/crds/"
  done
done
for kind in adminnetworkpolicies baselineadminnetworkpolicies clusternetworkpolicies; do
  [[ -f "$work/crds/policy.networking.k8s.io_$kind.yaml" ]] || { echo "error: no $kind CRD in $module" >&2; exit 1; }
done
chmod -R u+w "$work/crds"
rm -rf "$dir/crds"
mv "$work/crds" "$dir/crds"
echo "$dir"
