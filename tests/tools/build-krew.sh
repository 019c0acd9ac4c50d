#!/usr/bin/env bash
# Builds krew (the kubectl plugin manager) from the Go module proxy into a cache keyed by version, so
# the krew install test runs the real `kubectl krew install --manifest --archive` on our archives.
#
# Usage: tests/tools/build-krew.sh        build what is missing, print the directory
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
#        KREW_VERSION (default below)
# Output: <dir>/kubectl-krew, which kubectl finds as the `krew` plugin when <dir> is on PATH, and
#         <dir>/validate-krew-manifest, krew's own manifest validator (the one krew-index CI runs).
set -euo pipefail

version="${KREW_VERSION:-v0.4.3}"
module="sigs.k8s.io/krew"
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
dir="$cache/krew-$version"

if [[ -x "$dir/kubectl-krew" && -x "$dir/validate-krew-manifest" ]]; then
  echo "$dir"
  exit 0
fi

# shellcheck source=go-module.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-module.sh"
echo "building krew $version into $dir (first time only; takes a minute or two)" >&2
go_module_copy krew "$module" "$version" "$dir"
# krew reports its version from these variables (as its release build sets them).
(cd "$WORK/src" && go build -mod=readonly -trimpath \
  -ldflags "-s -w -X $module/internal/version.gitTag=$version -X $module/internal/version.gitCommit=$version" \
  -o "$WORK/kubectl-krew" ./cmd/krew)
(cd "$WORK/src" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$WORK/validate-krew-manifest" ./cmd/validate-krew-manifest)
mv "$WORK/kubectl-krew" "$dir/kubectl-krew"
mv "$WORK/validate-krew-manifest" "$dir/validate-krew-manifest"
echo "$dir"
