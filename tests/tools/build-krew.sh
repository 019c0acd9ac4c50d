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

command -v go >/dev/null || { echo "error: Go is needed to build krew $version" >&2; exit 2; }
export GOFLAGS="-buildvcs=false"
export CGO_ENABLED=0

mkdir -p "$dir"
echo "building krew $version into $dir (first time only; takes a minute or two)" >&2
# Build inside a copy of the module with its own go.mod and go.sum, as its release does.
# (`go install module@version` would ask the proxy for the module's version list, which it may refuse.)
src="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
[[ -f "$src/go.mod" ]] || { echo "error: could not download $module@$version from the Go module proxy" >&2; exit 1; }
work="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -R "$src/." "$work/src"
chmod -R u+w "$work/src"
# krew reports its version from these variables (as its release build sets them).
(cd "$work/src" && go build -mod=readonly -trimpath \
  -ldflags "-s -w -X $module/internal/version.gitTag=$version -X $module/internal/version.gitCommit=$version" \
  -o "$work/kubectl-krew" ./cmd/krew)
(cd "$work/src" && go build -mod=readonly -trimpath -ldflags "-s -w" -o "$work/validate-krew-manifest" ./cmd/validate-krew-manifest)
mv "$work/kubectl-krew" "$dir/kubectl-krew"
mv "$work/validate-krew-manifest" "$dir/validate-krew-manifest"
echo "$dir"
