#!/usr/bin/env bash
# Builds kube-bench from the Go module proxy into a cache keyed by version, with the cfg/ directory
# of the same module next to it, so the cis-bench parser is tested on what the real tool prints.
#
# Usage: tests/tools/build-kube-bench.sh        build what is missing, print the directory
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
#        KUBE_BENCH_VERSION (default below; keep it equal to the plugin's pinned image tag)
# Output directory layout: <dir>/kube-bench (the binary), <dir>/cfg/ (benchmarks and config.yaml).
set -euo pipefail

version="${KUBE_BENCH_VERSION:-v0.12.0}"
module="github.com/aquasecurity/kube-bench"
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
dir="$cache/kube-bench-$version"

if [[ -x "$dir/kube-bench" && -f "$dir/cfg/config.yaml" ]]; then
  echo "$dir"
  exit 0
fi

command -v go >/dev/null || { echo "error: Go is needed to build kube-bench $version" >&2; exit 2; }
export GOFLAGS="-buildvcs=false"
export CGO_ENABLED=0

mkdir -p "$dir"
echo "building kube-bench $version into $dir (first time only; takes a few minutes)" >&2
# Build inside a copy of the module itself, with its own go.mod and go.sum, as its release does.
# (`go install module@version` would ask the proxy for the module's version list, which it may refuse.)
src="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
[[ -f "$src/go.mod" ]] || { echo "error: could not download $module@$version from the Go module proxy" >&2; exit 1; }
[[ -d "$src/cfg" ]] || { echo "error: $module@$version has no cfg/ directory (looked in '$src')" >&2; exit 1; }
work="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp -R "$src/." "$work/src"
chmod -R u+w "$work/src"
(cd "$work/src" && go build -mod=readonly -trimpath \
  -ldflags "-s -w -X $module/cmd.KubeBenchVersion=$version" -o "$work/kube-bench" .)

# The benchmark definitions are not embedded in the binary; take them from the same module version.
rm -rf "$dir/cfg"
cp -R "$work/src/cfg" "$dir/cfg"
mv "$work/kube-bench" "$dir/kube-bench"
echo "$dir"
