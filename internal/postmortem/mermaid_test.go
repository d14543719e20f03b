package postmortem

import (
	"strings"
	"testing"
	"time"
)

// A short incident's clock shows seconds (14:05:07); no ':' may be left in
// a task's text, since ':' is where Mermaid's gantt grammar splits fields.
func TestMermaidShortIncidentLabels(t *testing.T) {
	d := shortIncident()
	for _, line := range strings.Split(d.Mermaid(), "\n") {
		text, _, ok := strings.Cut(line, ":milestone")
		if ok && strings.Contains(text, ":") {
			t.Errorf("a ':' is left in the task text: %q", line)
		}
	}
	if !strings.Contains(d.Mermaid(), "14.05.07 Deploy started (12 00 build)") {
		t.Errorf("diagram:\n%s", d.Mermaid())
	}
}

// shortIncident lasts under ten minutes, so its clock shows seconds.
func shortIncident() *Document {
	t0 := time.Date(2026, 11, 20, 14, 5, 7, 0, time.UTC)
	return &Document{Location: time.UTC, Timeline: []Entry{
		{Time: t0, Source: "CircleCI", Event: "Deploy: started (12:00 build)"},
		{Time: t0.Add(90 * time.Second), Source: "pmguard canary", Event: "Canary failed: 6% errors"},
	}}
}
