// Package markertest installs a stand-in for CircleCI's `circleci` CLI that
// records every call and accepts only the deploy-marker commands and flags
// CircleCI documents.
package markertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// script records each call's argv (fields separated by \x1f) and accepts
// only `circleci run release plan NAME --target-version=…
// [--environment-name=…] [--component-name=…] [--namespace=…]
// [--rollback]` (a rollback names the component and environment it rolls
// back) and
// `circleci run release update NAME
// --status=RUNNING|SUCCESS|FAILED|CANCELED [--failure-reason=…]` of a
// planned NAME, with a failure reason only on FAILED. It uses shell
// built-ins only, so it runs with whatever PATH its environment holds.
const script = `#!/bin/sh
log=%q
printf '%%s\037' "$@" >> "$log"; printf '\n' >> "$log"
%s
if [ -f "$log.hang" ]; then { read -r hang; read -r sleep; } < "$log.hang"; for a in "$@"; do [ "$a" != "$hang" ] || exec "$sleep" 3600; done; fi
[ "$1 $2" = "run release" ] || { echo "circleci: unknown command $*" >&2; exit 2; }
sub=$3; name=$4
case "$name" in ""|--*) echo "circleci: the plan name is missing" >&2; exit 2;; esac
shift 4
status=""; reason=""; version=""; rollback=""; comp=""; env=""
for a in "$@"; do
  case "$sub:$a" in
    plan:--target-version=?*) version=1;;
    plan:--environment-name=?*) env=1;;
    plan:--component-name=?*) comp=1;;
    plan:--namespace=?*) ;;
    plan:--rollback) rollback=1;;
    update:--status=RUNNING|update:--status=SUCCESS|update:--status=FAILED|update:--status=CANCELED) status=${a#--status=};;
    update:--failure-reason=?*) reason=1;;
    *) echo "circleci: unknown flag $a for release $sub" >&2; exit 2;;
  esac
done
case "$sub" in
  plan) [ -n "$version" ] || { echo "circleci: --target-version is required" >&2; exit 2; }
        [ -z "$rollback" ] || { [ -n "$comp" ] && [ -n "$env" ]; } || { echo "circleci: a rollback needs --component-name and --environment-name" >&2; exit 2; }
        echo "$name" >> "$log.plans";;
  update) [ -n "$status" ] || { echo "circleci: --status is required" >&2; exit 2; }
          [ -z "$reason" ] || [ "$status" = FAILED ] || { echo "circleci: --failure-reason is for FAILED" >&2; exit 2; }
          planned=""
          [ ! -f "$log.plans" ] || while IFS= read -r p; do [ "$p" != "$name" ] || planned=1; done < "$log.plans"
          [ -n "$planned" ] || { echo "circleci: Planned release not found" >&2; exit 1; };;
  *) echo "circleci: unknown subcommand $sub" >&2; exit 2;;
esac
`

// CLI is an installed stand-in.
type CLI struct {
	Dir string // put it first in PATH
	log string
}

var nameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Install writes the stand-in into a temporary directory. Each call
// records the values of the environment variables named in env that it
// was run with (Env).
func Install(t testing.TB, env ...string) *CLI {
	t.Helper()
	dir := t.TempDir()
	c := &CLI{Dir: dir, log: filepath.Join(dir, "calls.log")}
	var rec strings.Builder
	for _, k := range env {
		if !nameRe.MatchString(k) {
			t.Fatalf("markertest: %q is not a variable name", k)
		}
		fmt.Fprintf(&rec, "[ -z \"${%s+set}\" ] || printf '%%s\\037' \"%s=$%s\" >> \"$log.env\"\n", k, k, k)
	}
	rec.WriteString(`printf '\n' >> "$log.env"`)
	if err := os.WriteFile(filepath.Join(dir, "circleci"), []byte(fmt.Sprintf(script, c.log, rec.String())), 0o755); err != nil {
		t.Fatal(err)
	}
	return c
}

// HangOn makes every later call with the argument arg (such as
// --status=RUNNING) hang, as a CLI whose task agent never answers does.
func (c *CLI) HangOn(t testing.TB, arg string) {
	t.Helper()
	sleep, err := exec.LookPath("sleep") // the CLI may run without a PATH
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.log+".hang", []byte(arg+"\n"+sleep+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Calls returns every call's argv, in order.
func (c *CLI) Calls(t testing.TB) [][]string {
	t.Helper()
	var calls [][]string
	for _, rec := range records(c.log) {
		if len(rec) > 0 {
			calls = append(calls, rec)
		}
	}
	return calls
}

// Env returns, for every call in order, the variables Install was told to
// watch that the call's environment set (KEY=value).
func (c *CLI) Env(t testing.TB) [][]string {
	t.Helper()
	return records(c.log + ".env")
}

// records reads a log of one record a line, fields ended by \x1f.
func records(path string) [][]string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return nil
	}
	var out [][]string
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var fields []string
		if line != "" {
			fields = strings.Split(strings.TrimSuffix(line, "\x1f"), "\x1f")
		}
		out = append(out, fields)
	}
	return out
}

// Statuses returns the --status of each update, in order.
func (c *CLI) Statuses(t testing.TB) []string {
	var out []string
	for _, call := range c.Calls(t) {
		if len(call) > 4 && call[2] == "update" {
			out = append(out, strings.TrimPrefix(call[4], "--status="))
		}
	}
	return out
}
