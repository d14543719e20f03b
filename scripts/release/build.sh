#!/usr/bin/env bash
# Builds the release archives and checksums.txt into $DIST (default dist/):
#
#   scripts/release/build.sh 1.2.3
#
# produces dist/pmguard_1.2.3_<os>_<arch>.tar.gz (each holding one file,
# pmguard) and dist/checksums.txt in sha256sum format, which the orb's install
# command verifies against. The archives are reproducible: same source, same
# Go and same SOURCE_DATE_EPOCH give the same bytes.
#
# Linux binaries are built with cgo, so `pmguard migrations` parses with
# libpg_query compiled in (about 10x faster than the WebAssembly build on
# large changes and a fifth of its memory; BENCHMARKS.md), statically
# linked like the others: no glibc version dependency. They need a C
# compiler per target: gcc for linux/amd64 and aarch64-linux-gnu-gcc for
# linux/arm64 (Debian: gcc gcc-aarch64-linux-gnu libc6-dev-arm64-cross;
# installed here with apt-get when missing and run as root). darwin is
# built without cgo (the WebAssembly parser), as it cannot be cross-linked.
#
# Environment (all optional):
#   TARGETS      os/arch pairs to build (default: the four released ones)
#   CGO_ENABLED  0 builds every target without cgo (the WebAssembly parser);
#                unset: cgo for linux, none for darwin
#   CC_LINUX_AMD64, CC_LINUX_ARM64  the C compilers for the linux targets
#   COMMIT, DATE stamped into `pmguard version` (default: git HEAD, the
#                commit's date)
#   DIST         output directory (default: dist)
set -euo pipefail

version="${1:-${VERSION:-}}"
version="${version#v}"
if [ -z "$version" ]; then
  echo "usage: $0 VERSION   (e.g. $0 1.2.3)" >&2
  exit 2
fi
case "$version" in
  *[!A-Za-z0-9._+-]*) echo "invalid version \"$version\"" >&2; exit 2 ;;
esac

targets="${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}"
dist="${DIST:-dist}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
commit="${COMMIT:-$(git -C "$root" rev-parse HEAD 2>/dev/null || echo none)}"
epoch="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || date +%s)}"
date="${DATE:-$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null || date -u -r "$epoch" +%Y-%m-%dT%H:%M:%SZ)}"
cgo_default="${CGO_ENABLED:-auto}"

# cc_for TARGET prints the C compiler for a cgo target, installing Debian's
# cross compiler when it is missing and apt-get can be run.
cc_for() {
  local cc
  local -a pkgs
  case "$1" in
    linux/amd64)
      cc="${CC_LINUX_AMD64:-$([ "$(uname -m)" = x86_64 ] && echo gcc || echo x86_64-linux-gnu-gcc)}"
      pkgs=(gcc gcc-x86-64-linux-gnu libc6-dev-amd64-cross) ;;
    linux/arm64)
      cc="${CC_LINUX_ARM64:-$([ "$(uname -m)" = aarch64 ] && echo gcc || echo aarch64-linux-gnu-gcc)}"
      pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross) ;;
    *) return 1 ;;
  esac
  if ! command -v "$cc" >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "installing the C compiler for $1: apt-get install ${pkgs[*]}" >&2
      apt-get update -qq >&2 && apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
    fi
  fi
  if ! command -v "$cc" >/dev/null 2>&1; then
    echo "no C compiler $cc for $1 (Debian: apt-get install ${pkgs[*]}), or set CGO_ENABLED=0 to build it with the WebAssembly parser" >&2
    exit 3
  fi
  echo "$cc"
}

mkdir -p "$dist"
dist="$(cd "$dist" && pwd -P)"
work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT

archives=()
for target in $targets; do
  goos="${target%/*}"
  goarch="${target#*/}"
  name="pmguard_${version}_${goos}_${goarch}"
  mkdir -p "$work/$name"
  cgo=0
  cc=""
  tags=""
  extld=""
  if [ "$cgo_default" = auto ] && [ "$goos" = linux ] || [ "$cgo_default" = 1 ]; then
    cgo=1
    cc="$(cc_for "$target")"
    tags="-tags=netgo,osusergo"
    extld="-linkmode=external -extldflags=-static"
  fi
  echo "building $name (CGO_ENABLED=$cgo${cc:+ CC=$cc})"
  (cd "$root" && CGO_ENABLED="$cgo" CC="$cc" GOOS="$goos" GOARCH="$goarch" go build -trimpath $tags \
    -ldflags "-s -w $extld -X main.version=$version -X main.commit=$commit -X main.date=$date" \
    -o "$work/$name/pmguard" ./cmd/pmguard)
  touch -d "@$epoch" "$work/$name/pmguard" 2>/dev/null || true
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -C "$work/$name" -cf - pmguard | gzip -n -9 >"$dist/$name.tar.gz"
  archives+=("$name.tar.gz")
done

(cd "$dist" && sha256sum "${archives[@]}" >checksums.txt)
echo "wrote ${#archives[@]} archives and checksums.txt to $dist"
cat "$dist/checksums.txt"
