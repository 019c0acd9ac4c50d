#!/usr/bin/env bash
# Builds kube-bench from the Go module proxy into a cache keyed by version, with the cfg/ directory
# of the same module next to it, so the cis-bench parser is tested on what the real tool prints.
#
# Usage: tests/tools/build-kube-bench.sh        build what is missing, print the directory
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
#        KUBE_BENCH_VERSION (default below; keep it equal to the plugin's pinned image tag)
# Output directory layout: <dir>/kube-bench (the binary), <dir>/cfg/ (benchmarks and config.yaml).
set -euo pipefail

version="${KUBE_BENCH_VERSION:-v0.15.6}"
module="github.com/aquasecurity/kube-bench"
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
dir="$cache/kube-bench-$version"

if [[ -x "$dir/kube-bench" && -f "$dir/cfg/config.yaml" ]]; then
  echo "$dir"
  exit 0
fi

# shellcheck source=go-module.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-module.sh"
echo "building kube-bench $version into $dir (first time only; takes a few minutes)" >&2
go_module_copy kube-bench "$module" "$version" "$dir"
[[ -d "$SRC/cfg" ]] || { echo "error: $module@$version has no cfg/ directory (looked in '$SRC')" >&2; exit 1; }
(cd "$WORK/src" && go build -mod=readonly -trimpath \
  -ldflags "-s -w -X $module/cmd.KubeBenchVersion=$version" -o "$WORK/kube-bench" .)

# The benchmark definitions are not embedded in the binary; take them from the same module version.
rm -rf "$dir/cfg"
cp -R "$WORK/src/cfg" "$dir/cfg"
mv "$WORK/kube-bench" "$dir/kube-bench"
echo "$dir"
