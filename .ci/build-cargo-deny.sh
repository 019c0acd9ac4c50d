#!/usr/bin/env bash
# Builds cargo-deny (licenses, sources, bans and advisories of the dependency graph) from crates.io
# into a cache keyed by version, for `.ci/run`.
#
# Usage: tests/tools/build-cargo-deny.sh     build what is missing, print the bin directory
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
#        CARGO_DENY_VERSION (default below)
set -euo pipefail

version="${CARGO_DENY_VERSION:-0.20.2}"
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
root="$cache/cargo-deny-$version"

if [[ -x "$root/bin/cargo-deny" ]]; then
  echo "$root/bin"
  exit 0
fi
echo "building cargo-deny $version into $root (first time only; takes a few minutes)" >&2
# Its own target dir, so that the workspace's build cache is not disturbed.
CARGO_TARGET_DIR="$cache/cargo-deny-build" cargo install --locked --quiet --version "$version" --root "$root" cargo-deny
rm -rf "$cache/cargo-deny-build"
echo "$root/bin"
