package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/jobenv"
)

func TestNotifyStepPrintsTheMessage(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	d := &Demo{Options: Options{Out: &out, Dir: dir}, EventsFile: filepath.Join(dir, "events.jsonl")}
	log, err := events.Open(d.EventsFile, jobenv.FromEnv(d.jobEnv()))
	if err != nil {
		t.Fatal(err)
	}
	log.Append(context.Background(), events.Event{Verb: "canary", Event: "canary_failed", Figures: map[string]any{"error_rate": 0.25, "threshold": 0.02, "samples": 400}})
	if err := d.notify(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"template: CANARY_FAILED", "Canary failed: acme/api", "error rate 25% > 2%", "Block Kit:", "slack-message.json"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "slack-message.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Text   string           `json:"text"`
		Blocks []map[string]any `json:"blocks"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || m.Text == "" || len(m.Blocks) == 0 {
		t.Fatalf("slack-message.json: %v %s", err, raw)
	}
}
