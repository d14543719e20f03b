#!/usr/bin/env bash
# Benchmarks of pmguard health, each side by side with what a user would
# otherwise run. Usage: scripts/bench/health/run.sh [harness flags]
# (e.g. -what verdict -runs 20). Needs go, curl, xargs; hyperfine if present.
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root"

commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
bin="$work/pmguard"
GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -trimpath \
  -ldflags="-s -w -X main.version=bench -X main.commit=$commit -X main.date=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  -o "$bin" ./cmd/pmguard

echo "## pmguard health benchmarks"
echo
echo "Measured $(date -u +%Y-%m-%d) at commit $commit on $(nproc) CPU(s), $(go version | cut -d' ' -f3), $(curl --version | head -1 | cut -d' ' -f1-2)."
echo

echo "### Binary size and cold start"
echo
size=$(stat -c %s "$bin")
printf 'Stripped linux/amd64 binary (go build -trimpath -ldflags="-s -w"): %s bytes = %.1f MB (goal < 15 MB).\n\n' "$size" "$(echo "$size / 1048576" | bc -l)"
if command -v hyperfine >/dev/null; then
  hyperfine -N --warmup 20 --runs 200 --export-markdown "$work/start.md" \
    "$bin version" "curl --version" >/dev/null 2>&1
  sed "s#$bin#pmguard#" "$work/start.md"
else
  # No hyperfine: time 200 runs in a loop.
  for cmd in "$bin version" "curl --version"; do
    start=$(date +%s%N)
    for _ in $(seq 200); do $cmd >/dev/null; done
    end=$(date +%s%N)
    printf '| %s | %.2f ms mean of 200 |\n' "${cmd/#$bin/pmguard}" "$(echo "($end - $start) / 200 / 1000000" | bc -l)"
  done
fi
echo
echo "(goal for pmguard version: under 10 ms)"

go run ./scripts/bench/health -pmguard "$bin" "$@"
