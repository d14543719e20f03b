#!/usr/bin/env bash
# Side by side: a custom Slack template filled with hostile values the way a
# shell step does it (envsubst on the JSON text, as with the CircleCI slack
# orb's custom templates) and the way pmguard notify does it (parse the JSON,
# then expand inside its strings). Counts the messages that stay valid JSON
# with the template's 3 blocks and the value intact, and times both.
#
# Usage: scripts/bench/notify/hostile_values.sh   (from the repository root)
set -euo pipefail

root=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/pmguard" "$root/cmd/pmguard"

cat > "$work/template.json" <<'JSON'
{"text": "Deploy note: ${VALUE}", "blocks": [
  {"type": "header", "text": {"type": "plain_text", "text": "Deploy of ${CIRCLE_PROJECT_REPONAME}"}},
  {"type": "section", "text": {"type": "mrkdwn", "text": "*Note:* ${VALUE}"}},
  {"type": "context", "elements": [{"type": "mrkdwn", "text": "branch ${CIRCLE_BRANCH}"}]}
]}
JSON

# Commit subjects and notes seen in real pipelines, and a few hostile ones.
# They are literal text on purpose: nothing in them is to be expanded.
# shellcheck disable=SC2016,SC1003
values=(
  'Fix checkout timeout'
  'Revert "Add retries"'
  'line one
line two'
  'path C:\temp\new'
  '*bold* _it_ `code`'
  'cost $5 and $(whoami)'
  'tab	separated'
  '"}]}, {"type": "section"'
  'emoji :tada: & <https://x.example|link>'
  'quote \" backslash \\'
)

export CIRCLE_PROJECT_REPONAME=api CIRCLE_BRANCH=main
shell_ok=0 pmguard_ok=0
shell_ns=0 pmguard_ns=0
for v in "${values[@]}"; do
  export VALUE="$v"

  t0=$(date +%s%N)
  envsubst < "$work/template.json" > "$work/shell.json"
  t1=$(date +%s%N)
  shell_ns=$((shell_ns + t1 - t0))
  if jq -e --arg v "$v" '(.blocks | length) == 3 and (.blocks[1].text.text | contains($v))' "$work/shell.json" > /dev/null 2>&1; then
    shell_ok=$((shell_ok + 1)); s=ok
  else
    s=BROKEN
  fi

  t0=$(date +%s%N)
  env -u SLACK_ACCESS_TOKEN -u SLACK_WEBHOOK_URL "$work/pmguard" notify --job-status fail \
    --custom "$(cat "$work/template.json")" > "$work/preview.txt"
  t1=$(date +%s%N)
  pmguard_ns=$((pmguard_ns + t1 - t0))
  sed -n '/^---- Block Kit JSON/,$p' "$work/preview.txt" | tail -n +2 > "$work/pmguard.json"
  # pmguard escapes &, <, > for mrkdwn; compare the unescaped text.
  if jq -e --arg v "$v" '(.blocks | length) == 3 and (.blocks[1].text.text | gsub("&lt;"; "<") | gsub("&gt;"; ">") | gsub("&amp;"; "&") | contains($v))' "$work/pmguard.json" > /dev/null 2>&1; then
    pmguard_ok=$((pmguard_ok + 1)); p=ok
  else
    p=BROKEN
  fi
  printf '%-8s %-8s %q\n' "$s" "$p" "$v"
done

n=${#values[@]}
echo
printf 'envsubst (shell-built JSON): %d of %d messages intact, %.1f ms per message\n' "$shell_ok" "$n" "$(echo "$shell_ns / $n / 1000000" | bc -l)"
printf 'pmguard notify             : %d of %d messages intact, %.1f ms per message (whole process)\n' "$pmguard_ok" "$n" "$(echo "$pmguard_ns / $n / 1000000" | bc -l)"
