package postmortem

import (
	"fmt"
	"math"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/events"
)

// Entry is one line of the incident timeline.
type Entry struct {
	Time   time.Time `json:"time"`
	Event  string    `json:"event"`
	Source string    `json:"source"`
	Impact string    `json:"impact,omitempty"`
	Mark   Mark      `json:"mark,omitempty"`
	Link   string    `json:"link,omitempty"`
	// Ref names an imported entry in its source ("pagerduty:R1001LOG"), for
	// import_exclude.
	Ref string `json:"ref,omitempty"`
}

// Pipeline is a CircleCI pipeline as the post-mortem needs it.
type Pipeline struct {
	ID          string
	Number      int64
	ProjectSlug string
	Branch      string
	Tag         string
	Revision    string
	Subject     string
	TriggerType string
	// Actor is the VCS login that triggered the pipeline. It is used only to
	// look up the role the team gave it in incident.yml; it is never printed.
	Actor     string
	Created   time.Time
	Workflows []Workflow
	Rollback  bool // the pipeline that rolled the failed deploy back
}

// Workflow is one workflow of a pipeline.
type Workflow struct {
	ID      string
	Name    string
	Status  string
	Created time.Time
	Stopped time.Time
	Jobs    []Job
}

// Job is one job of a workflow.
type Job struct {
	Name    string
	Status  string
	Number  int64
	Started time.Time
	Stopped time.Time
	URL     string
}

// Short is a commit's short hash.
func short(rev string) string {
	if len(rev) > 7 {
		return rev[:7]
	}
	return rev
}

// who says what triggered a pipeline without naming a person: the role the
// team wrote for the login, else the kind of trigger.
func who(p Pipeline, roles map[string]string) string {
	if r, ok := roles[p.Actor]; ok && p.Actor != "" && strings.TrimSpace(r) != "" {
		return r
	}
	switch p.TriggerType {
	case "webhook":
		return "a push"
	case "api":
		return "an API call"
	case "explicit":
		return "a manual run"
	case "scheduled_pipeline":
		return "a schedule"
	}
	return "a trigger"
}

// pipelineEntries turns a pipeline into timeline entries: its trigger, each
// workflow's end, the deploy job's end and every job that did not succeed.
func pipelineEntries(p Pipeline, roles map[string]string) []Entry {
	kind := "Deploy pipeline"
	if p.Rollback {
		kind = "Rollback pipeline"
	}
	ref := p.Branch
	if p.Tag != "" {
		ref = "tag " + p.Tag
	}
	ev := fmt.Sprintf("%s #%d triggered on %s by %s", kind, p.Number, ref, who(p, roles))
	if p.Revision != "" {
		ev += fmt.Sprintf(" (commit %s", short(p.Revision))
		if p.Subject != "" {
			ev += fmt.Sprintf(" %q", firstLine(p.Subject))
		}
		ev += ")"
	}
	out := []Entry{{Time: p.Created, Event: ev, Source: "CircleCI"}}
	if !p.Rollback {
		out[0].Mark = MarkDeployStarted
	}
	deployedSet := false
	for _, w := range p.Workflows {
		// The deploy job's end is when the change reached production.
		var deployJob *Job
		for i := range w.Jobs {
			j := &w.Jobs[i]
			if j.Status == "success" && strings.Contains(strings.ToLower(j.Name), "deploy") && !j.Stopped.IsZero() {
				if deployJob == nil || j.Stopped.After(deployJob.Stopped) {
					deployJob = j
				}
			}
		}
		for _, j := range w.Jobs {
			if j.Stopped.IsZero() {
				continue
			}
			switch {
			case deployJob != nil && j.Number == deployJob.Number && j.Name == deployJob.Name:
				e := Entry{Time: j.Stopped, Event: fmt.Sprintf("Job %s succeeded (workflow %s)", j.Name, w.Name), Source: "CircleCI", Link: j.URL}
				if !p.Rollback && !deployedSet {
					e.Mark, deployedSet = MarkDeployed, true
				}
				out = append(out, e)
			case j.Status != "success" && j.Status != "":
				out = append(out, Entry{Time: j.Stopped, Event: fmt.Sprintf("Job %s %s (workflow %s)", j.Name, statusWord(j.Status), w.Name), Source: "CircleCI", Link: j.URL})
			}
		}
		if w.Stopped.IsZero() {
			continue
		}
		e := Entry{Time: w.Stopped, Event: fmt.Sprintf("Workflow %s %s after %s", w.Name, statusWord(w.Status), fmtDur(w.Stopped.Sub(w.Created))), Source: "CircleCI"}
		switch {
		case p.Rollback && w.Status == "success":
			e.Mark = MarkMitigated
			e.Event = fmt.Sprintf("Rollback workflow %s succeeded after %s", w.Name, fmtDur(w.Stopped.Sub(w.Created)))
		case !p.Rollback && !deployedSet && w.Status == "success":
			e.Mark, deployedSet = MarkDeployed, true
		}
		out = append(out, e)
	}
	return out
}

func statusWord(s string) string {
	switch s {
	case "success":
		return "succeeded"
	case "failed", "failing":
		return "failed"
	case "error":
		return "errored"
	case "canceled":
		return "was canceled"
	case "not_run":
		return "did not run"
	case "unauthorized":
		return "was unauthorized"
	}
	return strings.ReplaceAll(s, "_", " ")
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return strings.TrimSpace(s)
}

// eventEntry turns a pmguard event into a timeline entry; progress events
// (one per endpoint or canary step, starts of quick checks) are left out.
func eventEntry(e events.Event) (Entry, bool) {
	switch e.Event {
	case events.EndpointPassed, events.EndpointFailed, events.HealthStarted, events.CanaryStep:
		return Entry{}, false
	}
	src := "pmguard " + e.Verb
	if e.Job != "" {
		src += " (job " + e.Job + ")"
	}
	out := Entry{Time: e.Time, Source: src, Impact: figureSummary(e.Figures), Link: e.JobURL}
	msg := strings.TrimSpace(e.Message)
	with := func(s string) string {
		switch {
		case msg == "":
			return s
		case strings.HasPrefix(strings.ToLower(msg), strings.ToLower(s)):
			// The message already says it ("canary FAILED after 3.3s").
			return strings.ToUpper(msg[:1]) + msg[1:]
		}
		return s + ": " + msg
	}
	if l, ok := eventLabels[e.Event]; ok {
		out.Event, out.Mark = with(l.label), l.mark
		return out, true
	}
	switch e.Event {
	case events.Notified:
		var n events.Notice
		e.Decode(&n)
		ch := n.ChannelName
		if ch == "" {
			ch = n.Channel
		}
		s := "Incident notice posted to Slack"
		if ch != "" {
			s += " (" + ch + ")"
		}
		out.Event = s
		out.Impact = ""
	default:
		out.Event = with(humanize(e.Event))
	}
	return out, true
}

// eventLabels name pmguard's events in the timeline and mark the moments
// the response measures start and end at.
var eventLabels = map[string]struct {
	label string
	mark  Mark
}{
	// A passing post-deploy check means the change is in production.
	events.HealthPassed:       {"Health check passed", MarkDeployed},
	events.HealthFailed:       {"Health check failed", MarkDetected},
	events.CanaryStarted:      {"Canary analysis started", ""},
	events.CanaryPassed:       {"Canary passed", ""},
	events.CanaryFailed:       {"Canary failed", MarkDetected},
	events.CanaryInconclusive: {"Canary inconclusive", ""},
	events.RollbackInitiated:  {"Rollback started through CircleCI", MarkMitigationStarted},
	events.RollbackCompleted:  {"Rollback completed", MarkMitigated},
	events.RollbackFailed:     {"Rollback failed", ""},
	events.RollbackSkipped:    {"Rollback skipped", ""},
	events.NotifyFailed:       {"Slack notice failed", ""},
}

func humanize(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// figureSummary picks the figures a reader of a post-mortem cares about.
func figureSummary(f events.Figures) string {
	var parts []string
	if v, ok := errorRate(f); ok {
		parts = append(parts, "error rate "+fmtPct(v))
	}
	if k, v, ok := latency(f); ok {
		parts = append(parts, latencyLabel(k)+" "+fmtMS(v))
	}
	if v, ok := f.Number("status"); ok && v > 0 {
		parts = append(parts, "HTTP "+strconv.Itoa(int(v)))
	}
	if v, ok := f.Number("failed"); ok && v > 0 {
		parts = append(parts, fmt.Sprintf("%d failing", int(v)))
	}
	return strings.Join(parts, ", ")
}

var latencyKeys = []string{"p99_ms", "p95_ms", "p90_ms", "p50_ms", "latency_p99_ms", "latency_p95_ms", "latency_p90_ms", "latency_ms"}

func latencyLabel(k string) string {
	k = strings.TrimSuffix(strings.TrimPrefix(k, "latency_"), "_ms")
	if k == "latency" {
		return "latency"
	}
	return k
}

// errorRate finds an error rate among figures, as a fraction.
func errorRate(f events.Figures) (float64, bool) {
	for _, k := range []string{"error_rate", "canary_error_rate", "observed_error_rate"} {
		if v, ok := f.Fraction(k); ok {
			return v, true
		}
	}
	return 0, false
}

// latency finds the highest quantile of latency among figures.
func latency(f events.Figures) (string, float64, bool) {
	for _, k := range latencyKeys {
		if v, ok := f.Number(k); ok {
			return k, v, true
		}
	}
	return "", 0, false
}

func fmtPct(v float64) string {
	return strconv.FormatFloat(math.Round(v*1000)/10, 'f', -1, 64) + "%"
}

func fmtMS(v float64) string {
	return strconv.FormatFloat(math.Round(v), 'f', -1, 64) + " ms"
}

// fmtDur prints a duration the way people say it: 18 min, 1 h 5 min, 40 s.
func fmtDur(d time.Duration) string {
	if d < 0 {
		d = -d
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Round(time.Second)/time.Second))
	case d < time.Hour:
		m := d.Round(time.Second)
		if m%time.Minute == 0 {
			return fmt.Sprintf("%d min", int(m/time.Minute))
		}
		return fmt.Sprintf("%d min %d s", int(m/time.Minute), int(m%time.Minute/time.Second))
	default:
		m := d.Round(time.Minute)
		h := int(m / time.Hour)
		if mins := int(m % time.Hour / time.Minute); mins > 0 {
			return fmt.Sprintf("%d h %d min", h, mins)
		}
		return fmt.Sprintf("%d h", h)
	}
}

// incidentEntries turns the team's timeline into entries.
func incidentEntries(inc *Incident) []Entry {
	if inc == nil {
		return nil
	}
	var out []Entry
	for _, e := range inc.Timeline {
		src := strings.TrimSpace(e.Source)
		if src == "" {
			src = "incident notes"
		}
		out = append(out, Entry{Time: e.at, Event: strings.TrimSpace(e.Event), Source: src, Impact: strings.TrimSpace(e.Impact), Mark: e.Marks})
	}
	return out
}

// mergeEntries sorts entries by time; entries at the same instant keep the
// order CI, pmguard, team notes, so causes come before their reports.
func mergeEntries(groups ...[]Entry) []Entry {
	var all []Entry
	for _, g := range groups {
		all = append(all, g...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	return all
}

// isEventLog says whether an artifact path looks like a pmguard event log.
func isEventLog(p string) bool {
	return strings.HasSuffix(strings.ToLower(path.Base(p)), ".jsonl")
}
