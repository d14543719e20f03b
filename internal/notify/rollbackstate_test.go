package notify

import (
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/events"
)

// template ROLLBACK posts the notice that matches the rollback's newest
// state in the event log, whatever the job's status says.
func TestRollbackStateTemplate(t *testing.T) {
	cases := []struct {
		name   string
		events []events.Event
		want   string // template posted; "" means no notice
	}{
		{"no rollback yet", nil, ""},
		{"started", []events.Event{rollbackInitiated()}, RollbackStarted},
		{"completed", []events.Event{rollbackInitiated(), {Verb: "rollback", Event: "rollback_completed", Target: "v1.4.2"}}, RollbackSucceeded},
		{"failed", []events.Event{rollbackInitiated(), {Verb: "rollback", Event: "rollback_failed", Message: "workflow deploy failed"}}, RollbackFailed},
		{"skipped by the loop guard", []events.Event{{Verb: "rollback", Event: "rollback_skipped", Message: "this pipeline is itself a rollback", Figures: map[string]any{"reason": "loop_guard"}}}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.appendEvents(c.events...)
			s := h.settings()
			s.Template = "rollback"
			s.JobStatus = "fail" // the rollback runs in a failed job
			res := h.run(s)
			if res.err != nil {
				t.Fatalf("run: %v\n%s", res.err, res.out)
			}
			msgs := h.slack.Messages("incidents")
			if c.want == "" {
				if len(msgs) != 0 || !strings.Contains(res.out, "not sending") {
					t.Fatalf("want no notice, got %d message(s):\n%s", len(msgs), res.out)
				}
				return
			}
			n := h.readEvents("notified")
			if len(msgs) != 1 || len(n) != 1 || n[0].Figures.String("template") != c.want {
				t.Fatalf("want one %s notice; messages %d, notified %+v\n%s", c.want, len(msgs), n, res.out)
			}
		})
	}
}
