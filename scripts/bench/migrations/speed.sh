#!/usr/bin/env bash
# Speed of the released pmguard binary on a change of 478 migration files,
# side by side with the cgo development build, the WebAssembly build
# (CGO_ENABLED=0: the darwin releases, and every release before linux moved
# to cgo) with its compiled-code cache cold (a new PMGUARD_CACHE_DIR every
# run), warm (the directory a first run filled) and unusable (no cache, as
# before the cache existed), and squawk (npm's squawk-cli) linting the same
# files. Run from the repository root:
#
#   scripts/bench/migrations/speed.sh            # RUNS=3 by default
#
# The released binary is built by scripts/release/build.sh for the host, the
# way a release is. squawk is installed with `npm install squawk-cli` into a
# temporary directory when npm is there; its row is left out otherwise.
# Prints wall seconds, CPU seconds and peak RSS (GNU time) of each run.
set -euo pipefail
root="$(pwd)"
runs="${RUNS:-3}"
work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT
host="$(go env GOOS)/$(go env GOARCH)"

echo "building: the release for $host (scripts/release/build.sh), the cgo build, the CGO_ENABLED=0 build"
DIST="$work/dist" TARGETS="$host" COMMIT=bench DATE=2026-01-01T00:00:00Z bash scripts/release/build.sh 0.0.0-bench >/dev/null
tar -xzf "$work/dist/pmguard_0.0.0-bench_$(go env GOOS)_$(go env GOARCH).tar.gz" -C "$work"
mv "$work/pmguard" "$work/pmguard-release"
go build -ldflags='-s -w' -trimpath -o "$work/pmguard-cgo" ./cmd/pmguard
CGO_ENABLED=0 go build -ldflags='-s -w' -trimpath -o "$work/pmguard-wasm" ./cmd/pmguard

squawk=""
if command -v npm >/dev/null 2>&1; then
  (cd "$work" && npm install --silent --no-audit --no-fund squawk-cli >/dev/null 2>&1) && squawk="$work/node_modules/.bin/squawk"
fi

go run ./scripts/bench/migrations/gen -dir "$work/repo" -migrations 478 -lines 20000 >/dev/null
cd "$work/repo"
git diff --name-only v1.0.0 HEAD -- 'db/migrations/*.up.sql' >"$work/files.txt"
echo "change: $(wc -l <"$work/files.txt") migration files; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
[ -n "$squawk" ] && echo "squawk: $("$squawk" --version)"

# COLD=dir: the directory is removed before each run (a cold cache).
measure() {
  local name="$1"
  shift
  for i in $(seq "$runs"); do
    [ -n "${COLD:-}" ] && rm -rf -- "$COLD"
    /usr/bin/time -f "%e %M %U %S" -o "$work/time" "$@" >"$work/out" 2>&1 || true
    read -r wall rss user sys < <(tail -n 1 "$work/time")
    printf "  %-34s run %d  %6.2f s wall  %6.2f s CPU  %7.1f MB peak RSS\n" "$name" "$i" "$wall" \
      "$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" "$(awk -v k="$rss" 'BEGIN {print k / 1024}')"
  done
  tail -n 1 "$work/out" | cut -c1-120 | sed 's/^/    last line: /'
}

measure "pmguard release (cgo, static)" "$work/pmguard-release" migrations --base v1.0.0 --json "$work/r1.json"
measure "pmguard cgo build" "$work/pmguard-cgo" migrations --base v1.0.0 --json "$work/r2.json"
COLD="$work/cold" measure "pmguard wasm, cold cache" env PMGUARD_CACHE_DIR="$work/cold" "$work/pmguard-wasm" migrations --base v1.0.0 --json "$work/r3.json"
"$work/pmguard-wasm" migrations --base v1.0.0 --cache-dir "$work/warm" >/dev/null 2>&1 || true # fills the cache
measure "pmguard wasm, warm cache" env PMGUARD_CACHE_DIR="$work/warm" "$work/pmguard-wasm" migrations --base v1.0.0 --json "$work/r4.json"
measure "pmguard wasm, no cache (unwritable)" env PMGUARD_CACHE_DIR=/dev/null/pmguard "$work/pmguard-wasm" migrations --base v1.0.0 --json "$work/r5.json"
if [ -n "$squawk" ]; then
  # squawk reads the files from the work tree; it knows nothing of git or the deployed code
  # shellcheck disable=SC2046
  measure "squawk (lint only)" "$squawk" $(cat "$work/files.txt")
fi
# One small change per process, as a pull request with one migration runs
# it: PER runs each, median and 90th percentile of wall time.
per="${PER:-20}"
(cd "$root" && go run ./scripts/bench/migrations/gen -dir "$work/small" -migrations 1 -lines 2000 >/dev/null)
cd "$work/small"
one="$(git diff --name-only v1.0.0 HEAD -- 'db/migrations/*.up.sql' | head -n 1)"
percentiles() {
  local name="$1"
  shift
  for i in $(seq "$per"); do
    /usr/bin/time -f "%e" -o "$work/t.$i" "$@" >/dev/null 2>&1 || true
    tail -n 1 "$work/t.$i"
  done | sort -n | awk -v n="$per" -v name="$name" '{v[NR]=$1} END {printf "  %-34s one migration, %d runs: median %.3f s, p90 %.3f s\n", name, n, v[int((n+1)/2)], v[int(n*0.9+0.5)]}'
}
echo "per process:"
percentiles "pmguard release (cgo, static)" "$work/pmguard-release" migrations --base v1.0.0
percentiles "pmguard cgo build" "$work/pmguard-cgo" migrations --base v1.0.0
percentiles "pmguard wasm, warm cache" env PMGUARD_CACHE_DIR="$work/warm" "$work/pmguard-wasm" migrations --base v1.0.0
percentiles "pmguard wasm, no cache" env PMGUARD_CACHE_DIR=/dev/null/pmguard "$work/pmguard-wasm" migrations --base v1.0.0
[ -n "$squawk" ] && percentiles "squawk (lint only)" "$squawk" "$one"

cd "$root"
for r in r1 r2 r3 r4 r5; do
  grep -o '"verdict": "[a-z]*"\|"blocking": [0-9]*\|"warnings": [0-9]*' "$work/$r.json" | tr '\n' ' '
  echo
done
