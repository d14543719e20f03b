package notify

import (
	"encoding/json"
	"strings"
	"testing"
)

// The rollback notice carries the rollback's schema warning: rolling the
// code back does not roll the schema back.
func TestRollbackNoticeSaysTheSchemaWarning(t *testing.T) {
	h := newHarness(t)
	e := rollbackInitiated()
	e.Figures["schema_check"] = "warn"
	e.Figures["schema_findings"] = []any{"it uses users.email (app/users.go:3), dropped by db/migrations/0042_drop_email.up.sql; undo it with db/migrations/0042_drop_email.down.sql"}
	h.appendEvents(e)
	s := h.settings()
	s.Template = "rollback"
	s.JobStatus = "fail"
	res := h.run(s)
	if res.err != nil {
		t.Fatalf("run: %v\n%s", res.err, res.out)
	}
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	blocks, _ := json.Marshal(msgs[0].Blocks)
	body := msgs[0].Text + string(blocks)
	for _, want := range []string{"will not restore service", "users.email", "0042_drop_email.down.sql"} {
		if !strings.Contains(body, want) {
			t.Errorf("the notice does not say %q:\n%s", want, body)
		}
	}
}
