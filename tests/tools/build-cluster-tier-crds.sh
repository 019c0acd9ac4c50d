#!/usr/bin/env bash
# Copies the network-policy API's CRDs from the sigs.k8s.io/network-policy-api Go module (through the
# Go module proxy) into a cache keyed by version, so the tests install into their API server exactly
# the CRDs a cluster gets: ClusterNetworkPolicy (v1alpha2 and v1beta1) from CNP_VERSION, and the
# v1alpha1 AdminNetworkPolicy and BaselineAdminNetworkPolicy from ANP_VERSION (their last release).
# The experimental channel: a superset of the standard one (nodes, domainNames, named ports).
#
# Usage: tests/tools/build-cluster-tier-crds.sh   fetch what is missing, print the directory
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
#        CNP_VERSION, ANP_VERSION (defaults below)
# Output directory layout: <dir>/crds/policy.networking.k8s.io_*.yaml
set -euo pipefail

cnp_version="${CNP_VERSION:-v0.3.0}"
anp_version="${ANP_VERSION:-v0.1.7}"
module="sigs.k8s.io/network-policy-api"
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
dir="$cache/cluster-tier-crds-$cnp_version-$anp_version"
want=(clusternetworkpolicies adminnetworkpolicies baselineadminnetworkpolicies)

complete() {
  for name in "${want[@]}"; do
    [[ -f "$dir/crds/policy.networking.k8s.io_$name.yaml" ]] || return 1
  done
}
if complete; then
  echo "$dir"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to fetch $module" >&2; exit 2; }
source_dir() {
  local info src
  info="$(go mod download -json "$module@$1" || true)"
  src="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$info")"
  if [[ -z "$src" ]]; then
    echo "error: could not download $module@$1 from the Go module proxy:" >&2
    sed -n 's/^[[:space:]]*"Error": "\(.*\)",*$/  \1/p' <<<"$info" >&2
    exit 1
  fi
  echo "$src/config/crd/experimental"
}
cnp_src="$(source_dir "$cnp_version")"
anp_src="$(source_dir "$anp_version")"

mkdir -p "$dir"
work="$(mktemp -d "$dir/.fetch.XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir "$work/crds"
cp "$cnp_src/policy.networking.k8s.io_clusternetworkpolicies.yaml" "$work/crds/"
cp "$anp_src/policy.networking.k8s.io_adminnetworkpolicies.yaml" "$work/crds/"
cp "$anp_src/policy.networking.k8s.io_baselineadminnetworkpolicies.yaml" "$work/crds/"
chmod u+w "$work/crds"/*
rm -rf "$dir/crds"
mv "$work/crds" "$dir/crds"
complete || { echo "error: $dir/crds is incomplete" >&2; exit 1; }
echo "$dir"
