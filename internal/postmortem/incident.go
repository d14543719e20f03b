package postmortem

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"gopkg.in/yaml.v3"
)

// Incident is what the team writes in incident.yml: the facts CI cannot know
// (alerts, pages, decisions) and the analysis. Every field is optional; what
// is missing is left as a prompt in the draft.
type Incident struct {
	Title    string `yaml:"title"`
	Severity string `yaml:"severity"`
	Summary  string `yaml:"summary"`
	// Authors are the handles or roles of the post-mortem's writers.
	Authors []string `yaml:"authors"`
	// Trigger is what set the incident off, in the team's words; the
	// default names the failed deploy.
	Trigger string `yaml:"trigger"`
	// Date and Timezone complete timeline times written as "14:12".
	Date     string `yaml:"date"`
	Timezone string `yaml:"timezone"`
	Impact   Impact `yaml:"impact"`
	// Roles maps a CI login to the handle or role the team wants shown; a
	// login not listed here never appears in the document.
	Roles               map[string]string `yaml:"roles"`
	Timeline            []IncidentEntry   `yaml:"timeline"`
	RootCause           string            `yaml:"root_cause"`
	FiveWhys            []Why             `yaml:"five_whys"`
	ContributingFactors []string          `yaml:"contributing_factors"`
	WentWell            []string          `yaml:"went_well"`
	WentWrong           []string          `yaml:"went_wrong"`
	GotLucky            []string          `yaml:"got_lucky"`
	ActionItems         []ActionItem      `yaml:"action_items"`
	LessonsLearned      []string          `yaml:"lessons_learned"`
	FollowUp            Date              `yaml:"follow_up"`

	loc *time.Location
}

// Impact holds figures the team measured outside CI; they are merged with the
// figures found in the event log.
type Impact struct {
	Users         string   `yaml:"users"`
	PeakErrorRate Percent  `yaml:"peak_error_rate"`
	Latency       string   `yaml:"latency"`
	Endpoints     []string `yaml:"endpoints"`
	// Start and End set the impact window by hand: the first bad signal
	// and the restore, when no timeline entry marks them.
	Start Stamp `yaml:"start"`
	End   Stamp `yaml:"end"`

	start, end time.Time
}

// IncidentEntry is one timeline entry written by the team.
type IncidentEntry struct {
	Time   Stamp  `yaml:"time"`
	Event  string `yaml:"event"`
	Source string `yaml:"source"`
	Impact string `yaml:"impact"`
	Marks  Mark   `yaml:"marks"`
	at     time.Time
}

// Why is one step of the 5 Whys.
type Why struct {
	Why     string `yaml:"why"`
	Because string `yaml:"because"`
}

// UnmarshalYAML accepts "- why: ... because: ..." or a plain sentence.
func (w *Why) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		w.Because = n.Value
		return nil
	}
	type plain Why
	return n.Decode((*plain)(w))
}

// ActionItem is one follow-up action.
type ActionItem struct {
	Action   string     `yaml:"action"`
	Type     ActionType `yaml:"type"`
	Priority Priority   `yaml:"priority"`
	Owner    string     `yaml:"owner"`
	Deadline Date       `yaml:"deadline"`
	Status   Status     `yaml:"status"`
	// Ticket links the item where the team tracks it (an issue URL).
	Ticket string `yaml:"ticket"`
}

// ActionType is the Google SRE template's kind of action item.
type ActionType string

var actionTypes = []string{"mitigate", "prevent", "process"}

func (t *ActionType) UnmarshalYAML(n *yaml.Node) error {
	v := strings.ToLower(strings.TrimSpace(n.Value))
	for _, ok := range actionTypes {
		if v == ok {
			*t = ActionType(v)
			return nil
		}
	}
	return fieldError(n, "type", strings.Join(actionTypes, ", "))
}

// closed says whether an item needs no more work.
func (a ActionItem) closed() bool { return a.Status == "done" || a.Status == "wont_do" }

// Priority is P0, P1 or P2.
type Priority string

func (p *Priority) UnmarshalYAML(n *yaml.Node) error {
	v := strings.ToUpper(strings.TrimSpace(n.Value))
	switch v {
	case "P0", "P1", "P2":
		*p = Priority(v)
		return nil
	}
	return fieldError(n, "priority", "P0, P1 or P2")
}

// Status is an action item's state.
type Status string

var statuses = []string{"open", "in_progress", "done", "blocked", "wont_do"}

func (s *Status) UnmarshalYAML(n *yaml.Node) error {
	v := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(n.Value), " ", "_"))
	for _, ok := range statuses {
		if v == ok {
			*s = Status(v)
			return nil
		}
	}
	return fieldError(n, "status", strings.Join(statuses, ", "))
}

// Date is a calendar day, written 2006-01-02.
type Date struct{ time.Time }

func (d *Date) UnmarshalYAML(n *yaml.Node) error {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(n.Value))
	if err != nil {
		return fieldError(n, "date", "a date such as 2026-11-27")
	}
	d.Time = t
	return nil
}

func (d Date) String() string {
	if d.IsZero() {
		return ""
	}
	return d.Format(time.DateOnly)
}

// Percent is a rate written "25%" or "0.25".
type Percent float64

func (p *Percent) UnmarshalYAML(n *yaml.Node) error {
	v, err := config.ParsePercent(n.Value)
	if err != nil {
		return fieldError(n, "peak_error_rate", "a percentage such as 25% or 0.25")
	}
	*p = Percent(v)
	return nil
}

// Stamp is a timeline time as written, resolved once the file's date and
// timezone are known.
type Stamp struct {
	Raw  string
	Line int
}

func (s *Stamp) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fieldError(n, "time", timeForm)
	}
	s.Raw, s.Line = strings.TrimSpace(n.Value), n.Line
	return nil
}

const timeForm = "RFC 3339 (2026-11-20T14:12:00Z), \"2026-11-20 14:12\", or \"14:12\" with a top-level date"

// Mark says which moment of the incident an entry is.
type Mark string

// The moments the phases are measured between.
const (
	MarkDeployStarted     Mark = "deploy_started"
	MarkDeployed          Mark = "deployed"
	MarkImpactStart       Mark = "impact_start"
	MarkDetected          Mark = "detected"
	MarkDeclared          Mark = "declared"
	MarkAcknowledged      Mark = "acknowledged"
	MarkTriaged           Mark = "triaged"
	MarkRootCause         Mark = "root_cause"
	MarkMitigationStarted Mark = "mitigation_started"
	MarkMitigated         Mark = "mitigated"
	MarkResolved          Mark = "resolved"
	MarkFixDeployed       Mark = "fix_deployed"
)

var marks = []Mark{MarkDeployStarted, MarkDeployed, MarkImpactStart, MarkDetected, MarkDeclared, MarkAcknowledged,
	MarkTriaged, MarkRootCause, MarkMitigationStarted, MarkMitigated, MarkResolved, MarkFixDeployed}

func (m *Mark) UnmarshalYAML(n *yaml.Node) error {
	v := Mark(strings.TrimSpace(n.Value))
	for _, ok := range marks {
		if v == ok {
			*m = v
			return nil
		}
	}
	names := make([]string, len(marks))
	for i, k := range marks {
		names[i] = string(k)
	}
	return fieldError(n, "marks", strings.Join(names, ", "))
}

// lineError is a field of incident.yml that cannot be used.
type lineError struct {
	Line        int
	Field, Val  string
	Form        string
	Explanation string
}

func (e *lineError) Error() string {
	msg := fmt.Sprintf("line %d: invalid %s %q", e.Line, e.Field, e.Val)
	if e.Explanation != "" {
		msg += ": " + e.Explanation
	}
	return msg + "; accepted: " + e.Form
}

func fieldError(n *yaml.Node, field, form string) error {
	return &lineError{Line: n.Line, Field: field, Val: n.Value, Form: form}
}

// maxIncidentFile bounds what is read of incident.yml.
const maxIncidentFile = 4 << 20

// LoadIncident reads and validates an incident file; every problem is bad
// input (exit 2) naming the file, the line and the field.
func LoadIncident(path string) (*Incident, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, config.Invalidf("incident file %s: %v", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIncidentFile+1))
	if err != nil {
		return nil, config.Invalidf("incident file %s: %v", path, err)
	}
	if len(b) > maxIncidentFile {
		return nil, config.Invalidf("incident file %s: larger than %d bytes", path, maxIncidentFile)
	}
	inc, err := ParseIncident(b)
	if err != nil {
		return nil, config.Invalidf("incident file %s: %v", path, err)
	}
	return inc, nil
}

// ParseIncident decodes and validates incident.yml content.
func ParseIncident(b []byte) (*Incident, error) {
	inc := &Incident{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true) // a misspelt key is an error, not a silently empty section
	if err := dec.Decode(inc); err != nil && !errors.Is(err, io.EOF) {
		return nil, cleanYAMLError(err)
	}
	inc.loc = time.UTC
	if inc.Timezone != "" {
		loc, err := time.LoadLocation(inc.Timezone)
		if err != nil {
			return nil, &lineError{Line: lineOf(b, "timezone:"), Field: "timezone", Val: inc.Timezone, Form: "an IANA zone such as Europe/Berlin or UTC"}
		}
		inc.loc = loc
	}
	if inc.Date != "" {
		if _, err := time.Parse(time.DateOnly, inc.Date); err != nil {
			return nil, &lineError{Line: lineOf(b, "date:"), Field: "date", Val: inc.Date, Form: "a date such as 2026-11-20"}
		}
	}
	for i := range inc.Timeline {
		e := &inc.Timeline[i]
		if e.Time.Raw == "" {
			return nil, fmt.Errorf("timeline entry %d: time is required; accepted: %s", i+1, timeForm)
		}
		t, err := inc.resolve(e.Time.Raw)
		if err != nil {
			return nil, &lineError{Line: e.Time.Line, Field: "time", Val: e.Time.Raw, Form: timeForm, Explanation: err.Error()}
		}
		e.at = t
		if strings.TrimSpace(e.Event) == "" {
			return nil, fmt.Errorf("line %d: timeline entry %d has no event; say what happened", e.Time.Line, i+1)
		}
	}
	for _, st := range []*Stamp{&inc.Impact.Start, &inc.Impact.End} {
		if st.Raw == "" {
			continue
		}
		t, err := inc.resolve(st.Raw)
		if err != nil {
			return nil, &lineError{Line: st.Line, Field: "time", Val: st.Raw, Form: timeForm, Explanation: err.Error()}
		}
		if st == &inc.Impact.Start {
			inc.Impact.start = t
		} else {
			inc.Impact.end = t
		}
	}
	if !inc.Impact.start.IsZero() && inc.Impact.end.Before(inc.Impact.start) && !inc.Impact.end.IsZero() {
		return nil, &lineError{Line: inc.Impact.End.Line, Field: "time", Val: inc.Impact.End.Raw, Form: "a time after impact.start"}
	}
	seen := map[string]int{} // the action as followups keys it -> its item
	for i, a := range inc.ActionItems {
		if strings.TrimSpace(a.Action) == "" {
			return nil, fmt.Errorf("action item %d has no action", i+1)
		}
		// The action is what tells the items apart (a tracker issue each):
		// a copy would share the first one's issue.
		k := ActionKey(a.Action)
		if j, dup := seen[k]; dup {
			return nil, fmt.Errorf("action item %d repeats action item %d (%q); accepted: each action once, merged or reworded", i+1, j, strings.TrimSpace(a.Action))
		}
		seen[k] = i + 1
		if t := strings.TrimSpace(a.Ticket); t != "" && !strings.HasPrefix(t, "https://") && !strings.HasPrefix(t, "http://") {
			return nil, fmt.Errorf("action item %d: invalid ticket %q; accepted: a link such as https://github.com/acme/shop/issues/12", i+1, t)
		}
	}
	return inc, nil
}

// cleanYAMLError keeps yaml.v3's line numbers and drops its Go type names.
func cleanYAMLError(err error) error {
	var le *lineError
	if errors.As(err, &le) {
		return le
	}
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = strings.ReplaceAll(msg, " in type postmortem.Incident", "")
	msg = strings.ReplaceAll(msg, " in type postmortem.IncidentEntry", " (timeline entries have time, event, source, impact, marks)")
	msg = strings.ReplaceAll(msg, " in type postmortem.ActionItem", " (action items have action, type, priority, owner, deadline, status, ticket)")
	msg = strings.ReplaceAll(msg, " in type postmortem.Impact", " (impact has users, peak_error_rate, latency, endpoints, start, end)")
	return errors.New(msg)
}

func lineOf(b []byte, key string) int {
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), key) {
			return i + 1
		}
	}
	return 0
}

// resolve turns a written time into an instant.
func (inc *Incident) resolve(raw string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02 15:04", "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(layout, raw); err == nil {
			return inc.wallClock(t)
		}
	}
	for _, layout := range []string{"15:04:05", "15:04"} {
		if t, err := time.Parse(layout, raw); err == nil {
			if inc.Date == "" {
				return time.Time{}, errors.New("a time of day needs a top-level date")
			}
			d, _ := time.Parse(time.DateOnly, inc.Date)
			return inc.wallClock(time.Date(d.Year(), d.Month(), d.Day(), t.Hour(), t.Minute(), t.Second(), 0, time.UTC))
		}
	}
	return time.Time{}, errors.New("not a time")
}

// wallClock is the instant the clock on the wall showed w (its fields, read
// as inc's zone). A time the clocks skipped (spring forward) or showed
// twice (fall back) names no one instant: guessing would shift every
// duration measured from it by the hour, so it is an error asking for the
// offset.
func (inc *Incident) wallClock(w time.Time) (time.Time, error) {
	t := time.Date(w.Year(), w.Month(), w.Day(), w.Hour(), w.Minute(), w.Second(), 0, inc.loc)
	same := func(u time.Time) bool {
		return u.Year() == w.Year() && u.YearDay() == w.YearDay() && u.Hour() == w.Hour() && u.Minute() == w.Minute() && u.Second() == w.Second()
	}
	offset := func(u time.Time) string { return u.Format("-07:00") }
	switch {
	case !same(t):
		return time.Time{}, fmt.Errorf("%s did not happen on %s in %s (the clocks went forward): write it with its offset, e.g. %s",
			w.Format("15:04"), w.Format(time.DateOnly), inc.loc, t.Add(time.Hour).In(inc.loc).Format(time.RFC3339))
	case same(t.Add(time.Hour).In(inc.loc)):
		return time.Time{}, fmt.Errorf("%s happened twice on %s in %s (the clocks went back): write it with its offset, %s or %s",
			w.Format("15:04"), w.Format(time.DateOnly), inc.loc, offset(t), offset(t.Add(time.Hour).In(inc.loc)))
	case same(t.Add(-time.Hour).In(inc.loc)):
		return time.Time{}, fmt.Errorf("%s happened twice on %s in %s (the clocks went back): write it with its offset, %s or %s",
			w.Format("15:04"), w.Format(time.DateOnly), inc.loc, offset(t.Add(-time.Hour).In(inc.loc)), offset(t))
	}
	return t, nil
}

// Location is the zone the team writes times in (UTC unless set).
func (inc *Incident) Location() *time.Location {
	if inc == nil || inc.loc == nil {
		return time.UTC
	}
	return inc.loc
}

// ActionKey is what tells action items apart: the action, blanks and case
// aside. followups keys an item's tracker issue by it, so ParseIncident
// refuses two items with the same key.
func ActionKey(action string) string {
	return strings.ToLower(strings.Join(strings.Fields(action), " "))
}
