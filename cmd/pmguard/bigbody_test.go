package main

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/events"
)

// TestOversizedErrorBodyIsBounded: a CircleCI that answers with a 3 MiB
// error message. Rollback's stderr quotes a bounded part of it, its event
// log line stays readable, and a post-mortem drafted from that log shows
// the rollback_failed event.
func TestOversizedErrorBodyIsBounded(t *testing.T) {
	huge := strings.Repeat("x", 3<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"message":%q}`, huge)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	log := filepath.Join(dir, "big.jsonl")
	env := map[string]string{"CIRCLE_TOKEN": "tok-big-1234", "PMGUARD_CIRCLECI_HOST": srv.URL, "PMGUARD_EVENTS_FILE": log}
	code, out, errOut := invoke(t, env, "rollback", "--project-slug", "gh/acme/api",
		"--pipeline-id", "11111111-1111-1111-1111-111111111111", "--workflow-id", "22222222-2222-2222-2222-222222222222",
		"--deploy-workflow", "deploy", "--schema-check", "off")
	if code == 0 {
		t.Fatalf("exit 0 against a failing CircleCI\n%s", out)
	}
	if n := len(out) + len(errOut); n > 16<<10 {
		t.Errorf("%d bytes of output for one failed request: the server's message was not bounded", n)
	}
	contains(t, "stderr", errOut, "xxxx", "more bytes]")

	f, err := os.Open(log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
	}
	if err := sc.Err(); err != nil || lines == 0 {
		t.Fatalf("the event log has %d readable lines: %v", lines, err)
	}
	evs, skipped, err := events.ReadFiles(log)
	if err != nil || skipped != nil || len(events.Filter(evs, events.RollbackFailed)) != 1 {
		t.Fatalf("events %v, skipped %v, %v: want one rollback_failed read back", evs, skipped, err)
	}

	outDir := filepath.Join(dir, "pm")
	code, out, errOut = invoke(t, map[string]string{}, "postmortem", "--event-log", log, "--incident-file", "", "--output-dir", outDir, "--token-env", "NOPE_UNSET")
	if code != 0 {
		t.Fatalf("postmortem: exit %d\n%s%s", code, out, errOut)
	}
	md, _ := os.ReadFile(filepath.Join(outDir, "postmortem.md"))
	if !strings.Contains(string(md), "rollback") {
		t.Errorf("the draft does not show the rollback:\n%s", md)
	}
}

// TestSkippedEventLinesAreReported: a line too long to read is not
// dropped silently: postmortem warns and its draft says the timeline may
// lack it.
func TestSkippedEventLinesAreReported(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "events.jsonl")
	good := `{"time":"2026-11-20T14:00:00Z","verb":"health","event":"health_failed","message":"1 of 1 endpoint(s) failed"}`
	long := `{"time":"2026-11-20T14:01:00Z","verb":"rollback","event":"rollback_failed","message":"` + strings.Repeat("y", 2<<20) + `"}`
	if err := os.WriteFile(log, []byte(good+"\n"+long+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	outDir := filepath.Join(dir, "pm")
	code, out, errOut := invoke(t, map[string]string{}, "postmortem", "--event-log", log, "--incident-file", "", "--output-dir", outDir, "--token-env", "NOPE_UNSET")
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	contains(t, "stderr", errOut, "1 line(s) of the event logs were not events and were skipped", "1 of "+log)
	md, _ := os.ReadFile(filepath.Join(outDir, "postmortem.md"))
	contains(t, "postmortem.md", string(md), "were not events and were skipped", "the timeline may lack their events")
}
