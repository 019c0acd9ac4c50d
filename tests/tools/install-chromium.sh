#!/usr/bin/env bash
# Installs Debian's headless Chromium (the `chromium-headless-shell` package) for the tests that
# render `netpol-deny matrix -o html` in a real browser, and prints the browser's path. The .deb
# files apt-get downloads are kept in the cache, so a reinstall on this machine needs no network.
#
# Usage: tests/tools/install-chromium.sh     (installing needs root and apt-get; a present browser does not)
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
set -euo pipefail

cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
archives="$cache/chromium-debs"

find_browser() {
  for name in chromium-headless-shell chromium; do
    if command -v "$name" >/dev/null 2>&1; then
      command -v "$name"
      return 0
    fi
  done
  return 1
}

if find_browser; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "error: no chromium-headless-shell or chromium here, and installing Debian's package needs root" >&2
  exit 2
fi
echo "installing chromium-headless-shell with apt-get (first time only; the .deb files are kept in $archives)" >&2
mkdir -p "$archives/partial"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends -o "Dir::Cache::archives=$archives" chromium-headless-shell >&2
find_browser || { echo "error: chromium-headless-shell was installed but is not on PATH" >&2; exit 2; }
