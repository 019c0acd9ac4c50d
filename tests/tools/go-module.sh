# Sourced by the build-*.sh scripts that build a Go program from the Go module proxy (not run by
# itself: `cargo xtask test` runs only build-*.sh).
#
# go_module_copy NAME MODULE VERSION DIR: builds happen inside a copy of the module with its own
# go.mod and go.sum, as its release does (`go install module@version` would ask the proxy for the
# module's version list, which it may refuse). Downloads MODULE@VERSION, copies it to $WORK/src
# (writable), where WORK is a fresh directory under DIR removed when the script exits, and sets
# SRC to the module cache's copy. NAME is what the error messages call it.

go_module_copy() {
  local name="$1" module="$2" version="$3" dir="$4"
  command -v go >/dev/null || { echo "error: Go is needed to build $name $version" >&2; exit 2; }
  export GOFLAGS="-buildvcs=false"
  export CGO_ENABLED=0
  mkdir -p "$dir"
  SRC="$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
  [[ -f "$SRC/go.mod" ]] || { echo "error: could not download $module@$version from the Go module proxy" >&2; exit 1; }
  WORK="$(mktemp -d "$dir/.build.XXXXXX")"
  trap 'rm -rf "$WORK"' EXIT
  cp -R "$SRC/." "$WORK/src"
  chmod -R u+w "$WORK/src"
}
