#!/usr/bin/env bash
# Benchmark of pmguard migrations on a change of 50 migration files against a
# deployed code base of 200,000 lines, side by side with the plain git grep
# loop a user would otherwise write. Run from the repository root:
#
#   scripts/bench/migrations/run.sh
#
# It builds pmguard twice (the cgo parser, and CGO_ENABLED=0 with the
# WebAssembly parser that cross-compiled releases use), generates the
# repository, and prints wall time and peak RSS (GNU time) of each tool plus
# how well each finds the dropped or renamed names still in use.
set -euo pipefail
root="$(pwd)"
work="$(mktemp -d)"
trap 'rm -rf -- "$work"' EXIT

echo "building pmguard (cgo parser, and CGO_ENABLED=0 WebAssembly parser)"
go build -ldflags='-s -w' -trimpath -o "$work/pmguard-cgo" ./cmd/pmguard
CGO_ENABLED=0 go build -ldflags='-s -w' -trimpath -o "$work/pmguard-wasm" ./cmd/pmguard
for b in "$work/pmguard-cgo" "$work/pmguard-wasm"; do
  printf "  %s: %s bytes\n" "$(basename "$b")" "$(wc -c <"$b")"
done

go run ./scripts/bench/migrations/gen -dir "$work/repo"
cd "$work/repo"
echo "code at the deployed commit: $(git ls-tree -r --name-only v1.0.0 | grep -cv '^db/migrations') files, $(git grep -h -c '' v1.0.0 -- . ':(exclude)db/migrations' | awk '{s+=$1} END {print s}') lines"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# measure NAME CMD...: wall seconds, CPU seconds (user+sys, which the
# machine's load inflates less than wall time) and the peak RSS of CMD or
# its largest child.
measure() {
  local name="$1"
  shift
  /usr/bin/time -f "%e %M %U %S" -o "$work/time.$name" "$@" >"$work/out.$name" 2>&1 || true
  read -r wall rss user sys < <(tail -n 1 "$work/time.$name")
  printf "  %-24s %6.2f s wall  %6.2f s CPU  %7.1f MB peak RSS\n" "$name" "$wall" \
    "$(awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}')" "$(awk -v k="$rss" 'BEGIN {print k / 1024}')"
}

# What a user would otherwise write: pull the dropped and renamed names out
# of the new migrations with grep, then git grep the deployed code for each.
cat >"$work/naive.sh" <<'LOOP'
set -euo pipefail
for f in $(git diff --name-only v1.0.0 HEAD -- db/migrations | grep '\.up\.sql$'); do
  git show "HEAD:$f" | grep -oiE 'DROP (COLUMN|TABLE)( IF EXISTS)? [a-z_]+|RENAME COLUMN [a-z_]+|ALTER TABLE [a-z_]+ RENAME TO' |
    awk '{ if ($NF == "TO") print $3; else print $NF }'
done | sort -u | while read -r name; do
  echo "$name $(git grep -n -w -i -e "$name" v1.0.0 -- . ':(exclude)db/migrations' | wc -l)"
done
LOOP

echo "results:"
measure "pmguard (cgo parser)" "$work/pmguard-cgo" migrations --base v1.0.0 --json "$work/report-cgo.json"
# no compiled-code cache (PMGUARD_CACHE_DIR unusable): the module compiles, as
# on a machine's first run; speed.sh measures the warm cache
measure "pmguard (wasm parser)" env PMGUARD_CACHE_DIR=/dev/null/pmguard "$work/pmguard-wasm" migrations --base v1.0.0 --json "$work/report-wasm.json"
measure "git grep loop" bash "$work/naive.sh"
cp "$work/out.git grep loop" "$work/naive.txt"

echo "pmguard's summary:"
grep -h '^verdict:' "$work/out.pmguard (cgo parser)" "$work/out.pmguard (wasm parser)" || tail -n 5 "$work/out.pmguard (cgo parser)"

cd "$root"
echo "findings (cgo and wasm builds must agree):"
grep -o '"verdict": "[a-z]*"\|"blocking": [0-9]*\|"warnings": [0-9]*' "$work/report-cgo.json" | tr '\n' ' '; echo
grep -o '"verdict": "[a-z]*"\|"blocking": [0-9]*\|"warnings": [0-9]*' "$work/report-wasm.json" | tr '\n' ' '; echo
go run ./scripts/bench/migrations/score -truth "$work/repo.truth.txt" -report "$work/report-cgo.json" -naive "$work/naive.txt"
