#!/bin/sh
# Installs the pmguard binary for this machine's OS and architecture.
#
# POSIX sh: it runs under bash, dash and BusyBox sh (Alpine), which is what
# CircleCI uses when an image has no bash. No bash-only syntax here (no
# arrays, [[ ]], here-strings, local or printf %q); shellcheck -s sh checks.
#
# Inputs (environment, set by the install command; never templated into code):
#   PARAM_VERSION          release to install; empty: PMGUARD_ORB_VERSION
#   PARAM_SHA256           SHA-256 of that release's archive for this
#                          platform; required for a version the orb does
#                          not pin, optional (and must agree) for the pinned one
#   PARAM_BASE_URL         release download root (mirrors keep the layout)
#   PARAM_INSTALL_DIR      where the binary goes; a leading ~ means $HOME
#   PMGUARD_ORB_VERSION    the version pinned when the orb was packed
#   PMGUARD_ORB_CHECKSUMS  that version's checksums.txt, embedded in the orb
#   PMGUARD_INSTALL_CACHE_DIR  where verified archives are kept (default
#                          ~/.cache/pmguard; the cache parameter saves it
#                          with save_cache)
#   PMGUARD_INSTALL_ATTEMPTS, PMGUARD_INSTALL_RETRY_WAIT  download retries
#
# Trust: the only trusted inputs are the checksums pinned in the orb and the
# sha256 parameter from the user's config. Everything else (the download, an
# archive restored from a cache, a pmguard already in install_dir) is used
# only after its SHA-256 is computed and matches; a binary is never asked
# what it is. The binary appears under its final name only once verified
# (rename within one directory), so a failed or tampered download never
# leaves a pmguard that could run later.
#
# Windows executors run PowerShell by default. PowerShell reads the rest of
# the next line as the start of a block comment that ends at the "#>" line
# at the bottom, and runs only the lines after it, which refuse clearly; sh
# runs the next line as a no-op.
# shellcheck disable=SC2006,SC2116
echo `# <#` >/dev/null
set -eu

fail() {
  printf 'pmguard install: %s\n' "$*" >&2
  exit 1
}

note() {
  printf 'pmguard install: %s\n' "$*"
}

supported="pmguard is released for Linux and macOS, on amd64 and arm64"
uname_s="$(uname -s 2>/dev/null || echo unknown)"
case "$uname_s" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  MINGW* | MSYS* | CYGWIN* | Windows*)
    fail "Windows executors are not supported ($uname_s): $supported; run this job on a Docker, Linux machine or macOS executor" ;;
  *) fail "unsupported OS $uname_s: $supported" ;;
esac
uname_m="$(uname -m 2>/dev/null || echo unknown)"
case "$uname_m" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) fail "unsupported architecture $uname_m: $supported" ;;
esac

pinned="${PMGUARD_ORB_VERSION:-}"
version="${PARAM_VERSION:-}"
version="${version#v}"
if [ -z "$version" ]; then
  version="$pinned"
fi
if [ -z "$version" ]; then
  fail "no version to install: this orb was packed without a pinned version; set the install command's version parameter (e.g. version: 1.2.3) and its sha256 parameter"
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

archive="pmguard_${version}_${os}_${arch}.tar.gz"
release_url="$base_url/v$version"

# is_sha256 succeeds when $1 is 64 lowercase hex digits.
is_sha256() {
  case "$1" in
    *[!0-9a-f]*) return 1 ;;
  esac
  [ "${#1}" -eq 64 ]
}

# The expected SHA-256 of the archive, and where it comes from.
given="$(printf '%s' "${PARAM_SHA256:-}" | tr -d ' \t\r\n' | tr 'A-F' 'a-f')"
if [ -n "$given" ] && ! is_sha256 "$given"; then
  fail "invalid sha256 parameter \"${PARAM_SHA256:-}\"; accepted: the 64 hex digits of the SHA-256 of $archive"
fi
if [ -n "$pinned" ] && [ "$version" = "$pinned" ]; then
  # The loop reads every line (no break): stopping early would kill printf
  # with SIGPIPE, which fails the step under CircleCI's -o pipefail.
  expected="$(printf '%s\n' "${PMGUARD_ORB_CHECKSUMS:-}" | while read -r sum name _; do
    if [ -z "${found:-}" ] && { [ "$name" = "$archive" ] || [ "$name" = "*$archive" ]; }; then
      found=1
      printf '%s' "$sum"
    fi
  done)"
  sums_from="the checksums pinned in this orb for $pinned"
  [ -n "$expected" ] || fail "no checksum for $archive in $sums_from; is $os/$arch released for $version?"
  is_sha256 "$expected" || fail "malformed checksum \"$expected\" for $archive in $sums_from"
  if [ -n "$given" ] && [ "$given" != "$expected" ]; then
    fail "the sha256 parameter ($given) is not the SHA-256 this orb pins for $archive ($expected); leave sha256 empty for the pinned version"
  fi
else
  if [ -z "$given" ]; then
    fail "pmguard $version is not the version this orb pins (${pinned:-none}), so its SHA-256 must be given: set the sha256 parameter to the entry for $archive in $release_url/checksums.txt (checked against a copy you trust), or use the orb release that pins it (pmguard/pmguard@$version)"
  fi
  expected="$given"
  sums_from="the sha256 parameter"
fi

mkdir -p "$install_dir" || fail "cannot create install_dir $install_dir"
install_dir="$(cd "$install_dir" && pwd -P)"
bin="$install_dir/pmguard"

# sq quotes $1 for sh: 'it'\''s'.
sq() {
  printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"
}

# add_to_path makes the binary visible to the job's later steps, once.
add_to_path() {
  case ":$PATH:" in
    *":$install_dir:"*) on_path=true ;;
    *) on_path=false ;;
  esac
  if [ -z "${BASH_ENV:-}" ]; then
    if [ "$on_path" = false ]; then
      printf 'pmguard install: BASH_ENV is not set; add %s to PATH yourself\n' "$install_dir" >&2
    fi
    return 0
  fi
  path_line="export PATH=$(sq "$install_dir"):\"\$PATH\""
  if ! grep -qxF -- "$path_line" "$BASH_ENV" 2>/dev/null; then
    printf '%s\n' "$path_line" >>"$BASH_ENV"
  fi
  if [ "$on_path" = false ] && ! command -v bash >/dev/null 2>&1; then
    printf 'pmguard install: %s\n' "this image has no bash, so later steps run /bin/sh, which does not read \$BASH_ENV: set install_dir to a directory on PATH (e.g. /usr/local/bin) or put $install_dir on PATH in the job's environment" >&2
  fi
}

# sha256_of prints the SHA-256 of file $1.
sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then
    sum_out="$(sha256sum "$1")" || fail "cannot read $1"
  elif command -v shasum >/dev/null 2>&1; then
    sum_out="$(shasum -a 256 "$1")" || fail "cannot read $1"
  else
    fail "neither sha256sum nor shasum is installed; cannot verify the download"
  fi
  printf '%s' "${sum_out%% *}"
}

# The temp dir is inside install_dir so the final mv is a rename on one
# file system: the binary appears whole or not at all.
tmp="$(mktemp -d "$install_dir/.pmguard-install.XXXXXX")" || fail "cannot write to install_dir $install_dir"
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# unpack extracts the pmguard binary of archive $1 into $tmp/x.
unpack() {
  rm -rf -- "$tmp/x"
  mkdir "$tmp/x"
  tar -xzf "$1" -C "$tmp/x" pmguard || fail "$archive does not hold a pmguard binary"
  [ -f "$tmp/x/pmguard" ] || fail "$archive does not hold a pmguard binary"
  chmod 0755 "$tmp/x/pmguard"
}

# A verified archive kept by an earlier install of this job, or restored
# from a cache, saves the download; it is checked like one.
cache_dir="${PMGUARD_INSTALL_CACHE_DIR:-$HOME/.cache/pmguard}"
kept="$cache_dir/$archive"
verified=""
if [ -f "$kept" ]; then
  got="$(sha256_of "$kept")"
  if [ "$got" = "$expected" ]; then
    verified="$kept"
  else
    note "discarding $kept: its SHA-256 is $got, not $expected (from $sums_from)"
    rm -f -- "$kept"
  fi
fi

if [ -n "$verified" ]; then
  unpack "$verified"
  if [ -f "$bin" ] && [ "$(sha256_of "$bin")" = "$(sha256_of "$tmp/x/pmguard")" ]; then
    add_to_path
    note "pmguard $version is already installed in $install_dir (SHA-256 matches $sums_from); nothing downloaded"
    exit 0
  fi
  if [ -e "$bin" ]; then
    note "the pmguard in $install_dir is not pmguard $version as verified (its SHA-256 differs); replacing it"
  fi
  note "using $kept (SHA-256 verified against $sums_from); nothing downloaded"
else
  if [ -e "$bin" ]; then
    note "a pmguard is already in $install_dir, but no verified archive vouches for it; installing the verified release over it"
  fi

  # proxy_for prints the proxy curl would use for URL $1, empty for none:
  # https_proxy or HTTPS_PROXY for https, http_proxy for http, none when
  # no_proxy (or NO_PROXY) is "*" or lists the host, as curl's documentation
  # says: a name matches itself and its subdomains (a leading or trailing
  # dot aside), an IP address only itself, an IPv6 address written without
  # brackets ("::1", as curl wants it; the URL's brackets and port are not
  # part of the host). An entry with a port or brackets names no host for
  # curl, so none here either.
  # wget reads fewer of these (GNU wget only the lowercase ones, BusyBox
  # wget http_proxy for every URL and no no_proxy), so it is given this one.
  # all_proxy, which may name a SOCKS proxy wget cannot use, is curl's only.
  proxy_for() {
    case "$1" in
      https://*) proxy="${https_proxy:-${HTTPS_PROXY:-}}" ;;
      *) proxy="${http_proxy:-}" ;;
    esac
    host="${1#*://}"
    host="${host%%/*}"
    host="${host%%[?#]*}"
    host="${host##*@}"
    case "$host" in
      \[*) host="${host#?}"; host="${host%%]*}" ;;
      *) host="${host%:*}" ;;
    esac
    host="$(printf '%s' "${host%.}" | tr '[:upper:]' '[:lower:]')"
    # An IP address (IPv6 has a colon, IPv4 only digits and dots) matches
    # only itself; a name its subdomains too.
    case "$host" in
      *:*) ip=1 ;;
      *[!0-9.]*) ip="" ;;
      *) ip=1 ;;
    esac
    list="$(printf '%s' "${no_proxy:-${NO_PROXY:-}}" | tr -d ' \t' | tr '[:upper:]' '[:lower:]')"
    if [ "$list" = '*' ]; then
      proxy=""
    fi
    rest="$list,"
    while [ -n "$rest" ]; do
      entry="${rest%%,*}"
      rest="${rest#*,}"
      entry="${entry#.}"
      entry="${entry%.}"
      if [ -z "$entry" ]; then
        continue
      fi
      if [ "$host" = "$entry" ]; then
        proxy=""
      elif [ -z "$ip" ]; then
        case "$host" in *."$entry") proxy="" ;; esac
      fi
    done
    printf '%s' "$proxy"
  }

  # fetch downloads $1 to $2 once. Exit status 0: done; 1: worth retrying
  # (network error, timeout, 408, 429, 5xx); 2: permanent (other 4xx).
  fetch() {
    if command -v curl >/dev/null 2>&1; then
      if ! status="$(curl --silent --show-error --location --connect-timeout 10 --max-time 300 \
        --output "$2" --write-out '%{http_code}' "$1")"; then
        return 1
      fi
    elif command -v wget >/dev/null 2>&1; then
      # Only options BusyBox wget has too (Debian's BusyBox has no -T);
      # timeout(1) bounds the time when it works here. -S prints each
      # response's status line, so a 404 is told from a 503.
      wget_rc=0
      proxy="$(proxy_for "$1")"
      if timeout 5 true >/dev/null 2>&1; then
        http_proxy="$proxy" https_proxy="$proxy" timeout 300 wget -q -S -O "$2" "$1" 2>"$tmp/wget.log" || wget_rc=$?
      else
        http_proxy="$proxy" https_proxy="$proxy" wget -q -S -O "$2" "$1" 2>"$tmp/wget.log" || wget_rc=$?
      fi
      status="$(sed -n 's/^ *HTTP\/[0-9.]* \([0-9][0-9][0-9]\).*/\1/p' "$tmp/wget.log" | tail -n 1)"
      if [ -z "$status" ] || { [ "$wget_rc" -ne 0 ] && [ "${status#2}" != "$status" ]; }; then
        sed 's/^/  /' "$tmp/wget.log" >&2
        return 1
      fi
    else
      fail "neither curl nor wget is installed; install one of them before this step (e.g. apk add curl, apt-get install -y curl)"
    fi
    case "$status" in
      2??) return 0 ;;
      408 | 429 | 5??) printf 'pmguard install: %s answered HTTP %s\n' "$1" "$status" >&2; return 1 ;;
      *) printf 'pmguard install: %s answered HTTP %s\n' "$1" "$status" >&2; return 2 ;;
    esac
  }

  # download retries fetch with growing waits, a bounded number of times.
  download() {
    try=1
    wait_s="$retry_wait"
    while :; do
      rc=0
      fetch "$1" "$2" || rc=$?
      case "$rc" in
        0) return 0 ;;
        2) fail "download of $1 failed and will not succeed on retry (is version $version released, and base_url right?)" ;;
      esac
      if [ "$try" -ge "$attempts" ]; then
        fail "download of $1 failed after $attempts attempts"
      fi
      printf 'pmguard install: attempt %s of %s to download %s failed; retrying in %ss\n' "$try" "$attempts" "$1" "$wait_s" >&2
      sleep "$wait_s"
      try=$((try + 1))
      wait_s=$((wait_s * 2))
    done
  }

  note "downloading $release_url/$archive"
  download "$release_url/$archive" "$tmp/$archive"
  actual="$(sha256_of "$tmp/$archive")"
  if [ "$actual" != "$expected" ]; then
    fail "SHA-256 mismatch for $archive: expected $expected (from $sums_from), got $actual; nothing was installed"
  fi
  unpack "$tmp/$archive"
  # Keep the verified archive: later installs in this job, and the cache
  # parameter's save_cache, use it (and verify it again).
  if mkdir -p "$cache_dir" 2>/dev/null && cp "$tmp/$archive" "$kept.$$" 2>/dev/null; then
    mv -f "$kept.$$" "$kept"
  else
    rm -f -- "$kept.$$"
    note "cannot keep the archive in $cache_dir; later installs will download it again"
  fi
fi

# A last check that the verified binary runs here and is the version asked
# for (a wrong os/arch in a mirror's archive would fail here).
ran="$("$tmp/x/pmguard" version 2>/dev/null | sed -n 1p || true)"
case "$ran" in
  "pmguard $version" | "pmguard $version "*) ;;
  *) fail "$archive holds a binary that reports \"$ran\", not pmguard $version; nothing was installed" ;;
esac
mv -f "$tmp/x/pmguard" "$bin"

add_to_path
note "installed pmguard $version ($os/$arch) in $install_dir; SHA-256 verified against $sums_from"
exit 0
#>
# shellcheck disable=SC2317
Write-Output 'pmguard install: Windows executors are not supported: pmguard is released for Linux and macOS, on amd64 and arm64; run this job on a Docker, Linux machine or macOS executor'
# shellcheck disable=SC2317
exit 1
