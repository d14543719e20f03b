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
# Environment (all optional):
#   TARGETS      os/arch pairs to build (default: the four released ones)
#   CGO_ENABLED  0 (default) gives static binaries that cross-compile from
#                any host; set 1 only with a C cross-compiler per target
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
export CGO_ENABLED="${CGO_ENABLED:-0}"

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
  echo "building $name (CGO_ENABLED=$CGO_ENABLED)"
  (cd "$root" && GOOS="$goos" GOARCH="$goarch" go build -trimpath \
    -ldflags "-s -w -X main.version=$version -X main.commit=$commit -X main.date=$date" \
    -o "$work/$name/pmguard" ./cmd/pmguard)
  touch -d "@$epoch" "$work/$name/pmguard" 2>/dev/null || true
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
    -C "$work/$name" -cf - pmguard | gzip -n -9 >"$dist/$name.tar.gz"
  archives+=("$name.tar.gz")
done

(cd "$dist" && sha256sum "${archives[@]}" >checksums.txt)
echo "wrote ${#archives[@]} archives and checksums.txt to $dist"
cat "$dist/checksums.txt"
