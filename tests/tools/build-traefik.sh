#!/usr/bin/env bash
# Builds Traefik (v3: an Ingress and a Gateway API controller) from the Go module proxy into a cache
# keyed by version. The one-node cluster runs it so that the node tier shows what a real controller
# serves for what `kubectl tls-ingress create` made (ingress-nginx is retired; Traefik implements both
# paths and builds from modules alone).
#
# Usage: tests/tools/build-traefik.sh     build what is missing, print the binary's path
# Env:   KUBE_HARDEN_CACHE (default ~/.cache/kube-harden)
#        TRAEFIK_VERSION (default below: v3.7 needs modules the Go proxy here refuses, lego v5 DNS providers)
set -euo pipefail

version="${TRAEFIK_VERSION:-v3.6.12}"
module="github.com/traefik/traefik/v3"
cache="${KUBE_HARDEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kube-harden}"
dir="$cache/traefik-$version"

if [[ -x "$dir/traefik" ]]; then
  echo "$dir/traefik"
  exit 0
fi

# shellcheck source=go-module.sh
source "$(dirname "${BASH_SOURCE[0]}")/go-module.sh"
echo "building Traefik $version into $dir (first time only; takes several minutes)" >&2
# The web UI's built assets are not in the module (webui/static holds a placeholder): the dashboard
# is not needed.
go_module_copy Traefik "$module" "$version" "$dir"
(cd "$WORK/src" && go build -mod=readonly -trimpath \
  -ldflags "-s -w -X $module/pkg/version.Version=$version" -o "$WORK/traefik" ./cmd/traefik)
mv "$WORK/traefik" "$dir/traefik"
echo "$dir/traefik"
