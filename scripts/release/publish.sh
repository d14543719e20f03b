#!/usr/bin/env bash
# Publishes a release built by build.sh and packed by orbpack:
#
#   scripts/release/publish.sh v1.2.3
#
# 1. checks that dist/ holds the archives, that they match checksums.txt and
#    that dist/orb.yml pins exactly this version and these checksums;
# 2. creates the GitHub release v1.2.3 with the archives, checksums.txt and
#    orb.yml (gh, token from GH_TOKEN or GITHUB_TOKEN);
# 3. publishes the orb as $ORB_NAME@1.2.3 (circleci CLI, token from
#    CIRCLECI_CLI_TOKEN).
# The binaries go first: the orb sends its users to them. Tokens are read
# from the environment by the tools, never passed on a command line.
#
# Environment: DIST (default dist), ORB_NAME (default pmguard/pmguard),
# TARGETS (os/arch pairs the release must cover, as for build.sh),
# DRY_RUN=1 to print what would be published without publishing.
set -euo pipefail

tag="${1:-}"
case "$tag" in
  v[0-9]*.[0-9]*.[0-9]*) ;;
  *) echo "usage: $0 vMAJOR.MINOR.PATCH (got \"$tag\")" >&2; exit 2 ;;
esac
version="${tag#v}"
dist="${DIST:-dist}"
case "$dist" in /*) ;; *) dist="$PWD/$dist" ;; esac
orb_name="${ORB_NAME:-pmguard/pmguard}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"

die() {
  echo "publish: $*" >&2
  exit 1
}

[ -f "$dist/checksums.txt" ] || die "$dist/checksums.txt is missing; run scripts/release/build.sh $version"
[ -f "$dist/orb.yml" ] || die "$dist/orb.yml is missing; run go run ./scripts/orbpack --version $version"

archives=()
while read -r _ name; do
  case "$name" in
    "pmguard_${version}_"*.tar.gz) archives+=("$dist/$name") ;;
    *) die "checksums.txt lists $name, which is not an archive of $version" ;;
  esac
done <"$dist/checksums.txt"
[ "${#archives[@]}" -gt 0 ] || die "checksums.txt lists no archive"
(cd "$dist" && sha256sum --check --strict --quiet checksums.txt) || die "the archives in $dist do not match checksums.txt"

# The orb must pin what is being released: pack again and compare.
repacked="$(mktemp)"
trap 'rm -f -- "$repacked"' EXIT
targets="${TARGETS:-linux/amd64 linux/arm64 darwin/amd64 darwin/arm64}"
(cd "$root" && go run ./scripts/orbpack --version "$version" --checksums "$dist/checksums.txt" \
  --targets "$targets" --out "$repacked") ||
  die "cannot pack the orb for $version"
cmp -s "$repacked" "$dist/orb.yml" || die "$dist/orb.yml does not pin $version with these checksums; pack it again"

run() {
  if [ -n "${DRY_RUN:-}" ]; then
    printf 'would run:'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

if [ -z "${DRY_RUN:-}" ]; then
  [ -n "${GH_TOKEN:-${GITHUB_TOKEN:-}}" ] || die "GH_TOKEN or GITHUB_TOKEN must be set to create the GitHub release"
  [ -n "${CIRCLECI_CLI_TOKEN:-}" ] || die "CIRCLECI_CLI_TOKEN must be set to publish the orb"
fi

run gh release create "$tag" --verify-tag --title "pmguard $version" \
  --notes "pmguard $version. Verify a download with: sha256sum --check --ignore-missing checksums.txt" \
  "${archives[@]}" "$dist/checksums.txt" "$dist/orb.yml"
run circleci orb validate "$dist/orb.yml"
run circleci orb publish "$dist/orb.yml" "$orb_name@$version"
echo "published pmguard $version: GitHub release $tag and orb $orb_name@$version"
