#!/usr/bin/env bash
# Installs the Debian packages the one-node cluster needs when any is missing: the container
# runtime (containerd, runc), the pod network (CNI plugins), what kube-router programs the
# firewall with (iptables, ipset, conntrack), busybox for the test images and a C compiler for the
# pause image. Already installed packages are left alone, so a warm machine spends no time here.
#
# Usage: tests/node/install-packages.sh      (needs root; apt-get)
set -euo pipefail

# Asked of dpkg rather than of PATH: busybox-static (not Debian's dynamic busybox) is what the
# images copy, and libc6-dev is what links the static pause binary.
packages=(containerd runc containernetworking-plugins iptables ipset conntrack busybox-static gcc libc6-dev)
missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q '^install ok installed$' || missing+=("$package")
done

if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "error: the node cluster needs these Debian packages: ${missing[*]} (installing them needs root)" >&2
  exit 2
fi
echo "installing ${missing[*]} with apt-get (first time only)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
