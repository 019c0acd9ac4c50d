#!/usr/bin/env bash
# Builds the images the node cluster's pods use, as docker-archive tarballs for
# `ctr -n k8s.io images import` (no registry is reachable, and none is needed):
#   kube-harden.local/pause:1           a static pause (pause.c), the sandbox image
#   kube-harden.local/busybox:1.35.0    Debian's busybox-static with every applet linked, an index page
#   kube-harden.local/kube-bench:<ver>  busybox + the kube-bench the tests build + its cfg/
#   kube-harden.local/dashboard:1       a stand-in for kubernetesui/dashboard (cks-practice scenario 6):
#                                       busybox + /dashboard, which takes the Dashboard's flags, exits 1
#                                       on any other (as the Dashboard does) and serves on 8443
# Cached by the content that goes in (this script, pause.c, busybox, kube-bench), so a second run
# only prints the directory.
#
# Usage: tests/node/build-images.sh     print the directory holding the three .tar files
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
bash "$here/install-packages.sh"
bench="$(bash "$here/../tools/build-kube-bench.sh" | tail -n 1)"
bench_version="$(basename "$bench")"; bench_version="${bench_version#kube-bench-}"
busybox=/bin/busybox
busybox_version="$(dpkg-query -W -f='${Version}' busybox-static | sed 's/^[0-9]*://; s/-.*//')"

# One build at a time (tests that start nodes of their own prepare in parallel).
mkdir -p "$cache"
exec 9>"$cache/.node-images.lock"
flock 9

key="$(cat "$0" "$here/pause.c" "$here/ps.sh" "$busybox" "$bench/kube-bench" | sha256sum | cut -c1-16)"
dir="$cache/node-images-$key"
if [[ -f "$dir/done" ]]; then
  touch "$dir"   # in use: kept by the clean-up below
  echo "$dir"
  exit 0
fi
echo "building the node images into $dir" >&2
rm -rf "$dir"
mkdir -p "$dir"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64) arch=arm64 ;; *) arch="$(uname -m)" ;; esac

# image NAME:TAG ROOTFS CONFIG_JSON_FRAGMENT: one layer, deterministic tar.
image() {
  local ref="$1" root="$2" config="$3" out="$work/out-${1//[\/:]/_}"
  mkdir -p "$out"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$root" -cf "$out/layer.tar" .
  local diff; diff="$(sha256sum "$out/layer.tar" | cut -d' ' -f1)"
  printf '{"architecture":"%s","os":"linux","config":%s,"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$arch" "$config" "$diff" > "$out/config.json"
  local cfg; cfg="$(sha256sum "$out/config.json" | cut -d' ' -f1)"
  mv "$out/config.json" "$out/$cfg.json"
  printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$cfg" "$ref" > "$out/manifest.json"
  local file; file="$(echo "${ref%%:*}" | sed 's|.*/||').tar"
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$out" -cf "$dir/$file" .
}

busybox_root() {
  local root="$1"
  mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/www" "$root/proc" "$root/sys" "$root/dev"
  chmod 1777 "$root/tmp"
  cp "$busybox" "$root/bin/busybox"
  for applet in $("$busybox" --list); do
    [[ "$applet" == busybox ]] || ln -s busybox "$root/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\n' > "$root/etc/group"
  echo "kube-harden test page" > "$root/www/index.html"
}
env='"Env":["PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'

mkdir -p "$work/pause/bin"
cc -static -O2 -o "$work/pause/bin/pause" "$here/pause.c"
strip "$work/pause/bin/pause" 2>/dev/null || true
image kube-harden.local/pause:1 "$work/pause" "{$env,\"Entrypoint\":[\"/bin/pause\"]}"

busybox_root "$work/busybox"
image "kube-harden.local/busybox:$busybox_version" "$work/busybox" "{$env,\"Cmd\":[\"sh\"]}"

# kube-bench reads its benchmarks from /etc/kube-bench/cfg by default and runs ps, grep, stat and sh
# on the node through hostPID and the hostPath mounts: busybox gives it those, ps.sh the ps it expects.
busybox_root "$work/bench"
mkdir -p "$work/bench/usr/local/bin" "$work/bench/etc/kube-bench" "$work/bench/opt/kube-bench"
cp "$bench/kube-bench" "$work/bench/usr/local/bin/kube-bench"
# procps-style ps (kube-bench's `ps -C NAME -o cmd`), replacing busybox's applet.
rm "$work/bench/bin/ps"
install -m 0755 "$here/ps.sh" "$work/bench/bin/ps"
cp -R "$bench/cfg" "$work/bench/etc/kube-bench/cfg"
ln -s /etc/kube-bench/cfg "$work/bench/opt/kube-bench/cfg"
image "kube-harden.local/kube-bench:$bench_version" "$work/bench" \
  "{$env,\"WorkingDir\":\"/opt/kube-bench\",\"Entrypoint\":[\"kube-bench\"]}"

busybox_root "$work/dashboard"
cat > "$work/dashboard/dashboard" <<'EOF'
#!/bin/sh
# A stand-in for the Kubernetes Dashboard's flags: it exits on a flag it does not know, as the Dashboard does.
for arg in "$@"; do
  case "$arg" in
    --auto-generate-certificates|--namespace=*|--enable-skip-login|--enable-skip-login=*) ;;
    --enable-insecure-login|--enable-insecure-login=*|--insecure-port=*) ;;
    *) echo "unknown flag: $arg" >&2; exit 1 ;;
  esac
done
exec httpd -f -p 8443 -h /www
EOF
chmod 0755 "$work/dashboard/dashboard"
image kube-harden.local/dashboard:1 "$work/dashboard" "{$env,\"Entrypoint\":[\"/dashboard\"]}"

printf 'kube-harden.local/pause:1\nkube-harden.local/busybox:%s\nkube-harden.local/kube-bench:%s\nkube-harden.local/dashboard:1\n' \
  "$busybox_version" "$bench_version" > "$dir/images"
touch "$dir/done"
# Builds of other inputs unused for a week go. Not sooner: the cache is shared by every checkout on the
# machine, and one with another kube-bench (or busybox) may be running a node cluster from its images.
find "$cache" -maxdepth 1 -name 'node-images-*' ! -name "node-images-$key" -mtime +7 -exec rm -rf {} +
echo "$dir"
