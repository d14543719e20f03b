#!/usr/bin/env bash
# Where the binary's size and start-up time come from: builds the stripped
# linux/amd64 binary from a copy of the committed tree, whole and with verbs
# left out of the verb table, and prints size, peak RSS and start-up time of
# `pmguard version` for each. The work tree itself is not touched.
# Usage: scripts/bench/health/size_by_verb.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mkdir "$work/src"
(cd "$root" && git ls-files -z | xargs -0 cp --parents -t "$work/src")
rm -f "$work"/src/cmd/pmguard/*_test.go

# variant NAME VERB... : the tree without VERBs in cmd/pmguard.
variant() {
  local name=$1 dir="$work/$1"
  shift
  cp -r "$work/src" "$dir"
  for verb in "$@"; do
    sed -i "/^\t\t\"$verb\": /d" "$dir/cmd/pmguard/main.go"
    rm -f "$dir/cmd/pmguard/$verb.go"
  done
  (cd "$dir" && GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/bin-$name" ./cmd/pmguard)
}

variant all
variant without-migrations migrations demo
variant health-and-version canary rollback notify postmortem dora migrations demo

printf 'package main\nfunc main() { println("hi") }\n' >"$work/hello.go"
(cd "$work" && GOOS=linux GOARCH=amd64 CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o bin-hello hello.go)

echo "| binary | stripped size | peak RSS of \`version\` | start-up (hyperfine mean ± σ, min) | CPU user + sys |"
echo "|---|---:|---:|---:|---:|"
for name in all without-migrations health-and-version hello; do
  bin="$work/bin-$name"
  args=(version)
  [ "$name" = hello ] && args=()
  size=$(stat -c %s "$bin")
  rss=$(/usr/bin/time -f %M "$bin" "${args[@]}" 2>&1 >/dev/null | tail -1)
  if command -v hyperfine >/dev/null; then
    hyperfine -N --warmup 20 --runs 300 --export-json "$work/$name.json" "$bin ${args[*]}" >/dev/null 2>&1
    line=$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f ± %.1f ms, min %.1f ms | %.1f ms" % (r["mean"]*1e3, r["stddev"]*1e3, r["min"]*1e3, (r["user"]+r["system"])*1e3))' "$work/$name.json")
  else
    line="(hyperfine not installed) | -"
  fi
  printf '| %s | %.1f MB | %.1f MB | %s |\n' "$name" "$(echo "$size / 1048576" | bc -l)" "$(echo "$rss / 1024" | bc -l)" "$line"
done
