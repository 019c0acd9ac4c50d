#!/usr/bin/env bash
# Installs Debian's dnsmasq-base (the dnsmasq binary, without the package that runs it as a
# service on this machine) for the node tests that give the node a DNS server on its own address,
# as a node-local DNS cache is, and prints the binary's path. The .deb files apt-get downloads are
# kept in the cache, so a reinstall on this machine needs no network.
#
# Usage: tests/tools/install-dnsmasq.sh      (installing needs root and apt-get; a present dnsmasq does not)
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
set -euo pipefail

cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
archives="$cache/dnsmasq-debs"

find_dnsmasq() {
  for path in /usr/sbin/dnsmasq "$(command -v dnsmasq 2>/dev/null || true)"; do
    if [[ -n "$path" && -x "$path" ]]; then
      echo "$path"
      return 0
    fi
  done
  return 1
}

if find_dnsmasq; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "error: no dnsmasq here, and installing Debian's dnsmasq-base needs root (tests/tools/install-dnsmasq.sh)" >&2
  exit 2
fi
echo "installing dnsmasq-base with apt-get (first time only; the .deb files are kept in $archives)" >&2
mkdir -p "$archives/partial"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends -o "Dir::Cache::archives=$archives" dnsmasq-base >&2
find_dnsmasq || { echo "error: dnsmasq-base was installed but /usr/sbin/dnsmasq is not there" >&2; exit 2; }
