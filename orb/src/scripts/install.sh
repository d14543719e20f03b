#!/usr/bin/env bash
# Installs the pmguard binary for this machine's OS and architecture.
#
# Inputs (environment, set by the install command; never templated into code):
#   PARAM_VERSION          release to install; empty: PMGUARD_ORB_VERSION
#   PARAM_BASE_URL         release download root (mirrors keep the layout)
#   PARAM_INSTALL_DIR      where the binary goes; a leading ~ means $HOME
#   PMGUARD_ORB_VERSION    the version pinned when the orb was packed
#   PMGUARD_ORB_CHECKSUMS  that version's checksums.txt, embedded in the orb
#   PMGUARD_INSTALL_ATTEMPTS, PMGUARD_INSTALL_RETRY_WAIT  download retries
#
# The archive is verified before it is unpacked and the binary only appears
# under its final name once verified (rename within one directory), so a
# failed or tampered download never leaves a pmguard that could run later.
set -euo pipefail

fail() {
  printf 'pmguard install: %s\n' "$*" >&2
  exit 1
}

pinned="${PMGUARD_ORB_VERSION:-}"
version="${PARAM_VERSION:-}"
version="${version#v}"
if [ -z "$version" ]; then
  version="$pinned"
fi
if [ -z "$version" ]; then
  fail "no version to install: this orb was packed without a pinned version; set the install command's version parameter (e.g. version: 1.2.3)"
fi
case "$version" in
  *[!A-Za-z0-9._+-]*) fail "invalid version parameter \"$version\"; accepted: a release version such as 1.2.3" ;;
esac

base_url="${PARAM_BASE_URL:-https://github.com/pmguard/pmguard/releases/download}"
base_url="${base_url%/}"
case "$base_url" in
  https://* | http://*) ;;
  *) fail "invalid base_url parameter \"$base_url\"; accepted: an http:// or https:// URL" ;;
esac

install_dir="${PARAM_INSTALL_DIR:-$HOME/.local/bin}"
case "$install_dir" in
  \~) install_dir="$HOME" ;;
  \~/*) install_dir="$HOME/${install_dir#\~/}" ;;
esac
[ -n "$install_dir" ] || fail "invalid install_dir parameter: it is empty"

attempts="${PMGUARD_INSTALL_ATTEMPTS:-5}"
retry_wait="${PMGUARD_INSTALL_RETRY_WAIT:-2}"
case "$attempts$retry_wait" in
  *[!0-9]*) fail "PMGUARD_INSTALL_ATTEMPTS and PMGUARD_INSTALL_RETRY_WAIT must be whole numbers" ;;
esac

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) fail "unsupported OS $(uname -s): pmguard is released for Linux and macOS" ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) fail "unsupported architecture $(uname -m): pmguard is released for amd64 and arm64" ;;
esac

# add_to_path makes the binary visible to the job's later steps, once.
add_to_path() {
  if [ -z "${BASH_ENV:-}" ]; then
    printf 'pmguard install: BASH_ENV is not set; add %s to PATH yourself\n' "$install_dir" >&2
    return 0
  fi
  local line
  line="export PATH=$(printf '%q' "$install_dir"):\"\$PATH\""
  if ! grep -qxF -- "$line" "$BASH_ENV" 2>/dev/null; then
    printf '%s\n' "$line" >>"$BASH_ENV"
  fi
}

# installed_version prints the version reported by the binary at $1, if any.
installed_version() {
  local out _ v
  [ -x "$1" ] || return 0
  out="$("$1" version 2>/dev/null || true)"
  read -r _ v _ <<<"$out" || true
  printf '%s' "$v"
}

mkdir -p "$install_dir" || fail "cannot create install_dir $install_dir"
install_dir="$(cd "$install_dir" && pwd -P)"
bin="$install_dir/pmguard"

if [ "$(installed_version "$bin")" = "$version" ]; then
  add_to_path
  printf 'pmguard install: pmguard %s is already installed in %s; nothing downloaded\n' "$version" "$install_dir"
  exit 0
fi

# fetch downloads $1 to $2 once. Exit status 0: done; 1: worth retrying
# (network error, timeout, 408, 429, 5xx); 2: permanent (other 4xx).
fetch() {
  local status
  if command -v curl >/dev/null 2>&1; then
    if ! status="$(curl --silent --show-error --location --connect-timeout 10 --max-time 300 \
      --output "$2" --write-out '%{http_code}' "$1")"; then
      return 1
    fi
    case "$status" in
      2??) return 0 ;;
      408 | 429 | 5??) printf 'pmguard install: %s answered HTTP %s\n' "$1" "$status" >&2; return 1 ;;
      *) printf 'pmguard install: %s answered HTTP %s\n' "$1" "$status" >&2; return 2 ;;
    esac
  elif command -v wget >/dev/null 2>&1; then
    # Short options only, so BusyBox wget works too. wget does not tell a
    # 404 from a 503, so every failure is retried within the bound.
    wget -q -T 60 -O "$2" "$1" || return 1
  else
    fail "neither curl nor wget is installed; install one of them before this step"
  fi
}

# download retries fetch with growing waits, a bounded number of times.
download() {
  local i=1 wait_s="$retry_wait" rc
  while :; do
    rc=0
    fetch "$1" "$2" || rc=$?
    case "$rc" in
      0) return 0 ;;
      2) fail "download of $1 failed and will not succeed on retry (is version $version released, and base_url right?)" ;;
    esac
    if [ "$i" -ge "$attempts" ]; then
      fail "download of $1 failed after $attempts attempts"
    fi
    printf 'pmguard install: attempt %s of %s to download %s failed; retrying in %ss\n' "$i" "$attempts" "$1" "$wait_s" >&2
    sleep "$wait_s"
    i=$((i + 1))
    wait_s=$((wait_s * 2))
  done
}

sha256() {
  local sum _
  if command -v sha256sum >/dev/null 2>&1; then
    read -r sum _ < <(sha256sum "$1")
  elif command -v shasum >/dev/null 2>&1; then
    read -r sum _ < <(shasum -a 256 "$1")
  else
    fail "neither sha256sum nor shasum is installed; cannot verify the download"
  fi
  printf '%s' "$sum"
}

# The temp dir is inside install_dir so the final mv is a rename on one
# file system: the binary appears whole or not at all.
tmp="$(mktemp -d "$install_dir/.pmguard-install.XXXXXX")" || fail "cannot write to install_dir $install_dir"
trap 'rm -rf -- "$tmp"' EXIT

archive="pmguard_${version}_${os}_${arch}.tar.gz"
release_url="$base_url/v$version"

if [ -n "$pinned" ] && [ "$version" = "$pinned" ]; then
  sums="${PMGUARD_ORB_CHECKSUMS:-}"
  sums_from="the checksums pinned in this orb for $pinned"
else
  download "$release_url/checksums.txt" "$tmp/checksums.txt"
  sums="$(cat "$tmp/checksums.txt")"
  sums_from="$release_url/checksums.txt"
fi

expected=""
while read -r sum name _; do
  if [ "$name" = "$archive" ] || [ "$name" = "*$archive" ]; then
    expected="$sum"
    break
  fi
done <<<"$sums"
case "$expected" in
  "" ) fail "no checksum for $archive in $sums_from; is $os/$arch released for $version?" ;;
  *[!0-9a-f]*) fail "malformed checksum \"$expected\" for $archive in $sums_from" ;;
esac
[ "${#expected}" -eq 64 ] || fail "malformed checksum \"$expected\" for $archive in $sums_from"

printf 'pmguard install: downloading %s/%s\n' "$release_url" "$archive"
download "$release_url/$archive" "$tmp/$archive"

actual="$(sha256 "$tmp/$archive")"
if [ "$actual" != "$expected" ]; then
  fail "SHA-256 mismatch for $archive: expected $expected (from $sums_from), got $actual; nothing was installed"
fi

mkdir "$tmp/x"
tar -xzf "$tmp/$archive" -C "$tmp/x" pmguard || fail "$archive does not hold a pmguard binary"
[ -f "$tmp/x/pmguard" ] || fail "$archive does not hold a pmguard binary"
chmod 0755 "$tmp/x/pmguard"
got="$(installed_version "$tmp/x/pmguard")"
if [ "$got" != "$version" ]; then
  fail "$archive holds a binary that reports version \"$got\", not $version; nothing was installed"
fi
mv -f "$tmp/x/pmguard" "$bin"

add_to_path
printf 'pmguard install: installed pmguard %s (%s/%s) in %s; SHA-256 verified against %s\n' \
  "$version" "$os" "$arch" "$install_dir" "$sums_from"
