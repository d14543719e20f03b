package notify

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// TestHelperProcess is pmguard notify as a separate process: settings from
// the environment as the orb passes them, nothing shared with the test but
// the event log file and the Slack stand-in.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("PMGUARD_TEST_NOTIFY_HELPER") != "1" {
		return
	}
	o, err := New(context.Background(), verbtest.OS(), nil)
	if err == nil {
		err = Run(context.Background(), o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(exitcode.Of(err))
}

func (h *harness) process(extra map[string]string) (string, int) {
	h.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = []string{"PMGUARD_TEST_NOTIFY_HELPER=1", "PATH=" + os.Getenv("PATH"), "PMGUARD_EVENTS_FILE=" + h.events, "SLACK_DEFAULT_CHANNEL=incidents"}
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	for k, v := range extra {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		h.t.Fatal(err)
	}
	return string(out), code
}

func TestThreadContinuityAcrossProcesses(t *testing.T) {
	h := newHarness(t)
	h.appendEvents(canaryFailure())
	out, code := h.process(map[string]string{"PMGUARD_NOTIFY_TEMPLATE": "CANARY_FAILED", "PMGUARD_NOTIFY_EVENT": "fail", "PMGUARD_NOTIFY_JOB_STATUS": "fail"})
	if code != 0 {
		t.Fatalf("first process: exit %d\n%s", code, out)
	}
	h.appendEvents(rollbackInitiated())
	out, code = h.process(map[string]string{"PMGUARD_NOTIFY_TEMPLATE": "ROLLBACK_STARTED", "PMGUARD_NOTIFY_EVENT": "fail", "PMGUARD_NOTIFY_JOB_STATUS": "fail"})
	if code != 0 {
		t.Fatalf("second process: exit %d\n%s", code, out)
	}
	mustContain(t, "second process", out, "replied with ROLLBACK_STARTED in the incident's thread")
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS || msgs[0].Edits != 1 {
		t.Fatalf("want a parent (updated once) and a reply in its thread: %+v", msgs)
	}
	mustContain(t, "updated parent", blockText(msgs[0].Blocks), "rolling back", "rollback pipeline #568")

	// A bad setting in a process is exit 2, before any call.
	calls := len(h.slack.Requests())
	out, code = h.process(map[string]string{"PMGUARD_NOTIFY_POSTMORTEM_REMINDER": "forever"})
	if code != exitcode.BadInput || len(h.slack.Requests()) != calls {
		t.Fatalf("bad reminder: exit %d, %d new calls\n%s", code, len(h.slack.Requests())-calls, out)
	}
	mustContain(t, "error", out, "postmortem_reminder", "PMGUARD_NOTIFY_POSTMORTEM_REMINDER")
}
