package postmortem

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/human"
)

// Entry is one line of the incident timeline. Source names the system the
// entry came from (CircleCI, pmguard health, Datadog monitor, PagerDuty, the
// team's notes); entries supplied by importers keep theirs, so a reader can
// tell them apart and a run can leave a source out.
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
	// Also are the sources of entries that recorded the same moment and
	// were folded into this one (one row per moment).
	Also []string `json:"also_from,omitempty"`

	// rank orders entries of one moment: the team's words first, then
	// imported systems, then pmguard, then CircleCI.
	rank int
}

// Entry ranks: which of several records of one moment leads its row.
const (
	rankTeam = iota
	rankImported
	rankPmguard
	rankCI
)

// Pipeline is a CircleCI pipeline as the post-mortem needs it.
type Pipeline struct {
	ID          string
	Number      int64
	ProjectSlug string
	Branch      string
	Tag         string
	Revision    string
	Subject     string
	// Body is the rest of the commit message; it is shown scrubbed of
	// logins and emails like the subject.
	Body        string
	TriggerType string
	// Actor is the VCS login that triggered the pipeline. It is used only to
	// look up the role the team gave it in incident.yml; it is never printed.
	Actor     string
	Created   time.Time
	Workflows []Workflow
	Rollback  bool // the pipeline that rolled the failed deploy back
	// Fix is the later deploy that shipped the root-cause fix.
	Fix bool
	// TargetNumber, TargetRevision and TargetSubject are what a rollback
	// pipeline rolled back to: CircleCI records the branch head (the bad
	// commit) as the rollback pipeline's own revision.
	TargetNumber   int64
	TargetRevision string
	TargetSubject  string
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

// commitText is a commit as a timeline shows it: short hash and subject.
func commitText(rev, subject string) string {
	if rev == "" {
		return ""
	}
	s := "commit " + short(rev)
	if subject != "" {
		s += fmt.Sprintf(" %q", firstLine(subject))
	}
	return s
}

// rollbackTarget says what a rollback pipeline rolled back to.
func rollbackTarget(p Pipeline) string {
	var parts []string
	if p.TargetNumber > 0 {
		parts = append(parts, fmt.Sprintf("pipeline #%d", p.TargetNumber))
	}
	if c := commitText(p.TargetRevision, p.TargetSubject); c != "" {
		parts = append(parts, c)
	}
	return strings.Join(parts, ", ")
}

// foldWindow is how long after its deploy job a workflow may end and still
// be the same moment: the job's end and the workflow's are one row.
const foldWindow = 30 * time.Second

// pipelineEntries turns a pipeline into timeline entries: its trigger, each
// workflow's end (with its deploy job's, when they are one moment) and every
// job that did not succeed.
func pipelineEntries(p Pipeline, roles map[string]string) []Entry {
	kind := "Deploy pipeline"
	switch {
	case p.Rollback:
		kind = "Rollback pipeline"
	case p.Fix:
		kind = "Fix deploy pipeline"
	}
	ref := p.Branch
	if p.Tag != "" {
		ref = "tag " + p.Tag
	}
	ev := fmt.Sprintf("%s #%d triggered on %s by %s", kind, p.Number, ref, who(p, roles))
	switch t := rollbackTarget(p); {
	case p.Rollback && t != "":
		ev += " to roll back to " + t
	case p.Rollback && p.Revision != "":
		// CircleCI records the branch head, which is the failed commit
		// unless the rollback checked out another.
		ev += " (branch head " + short(p.Revision) + ")"
	case p.Revision != "":
		ev += " (" + commitText(p.Revision, p.Subject) + ")"
	}
	out := []Entry{{Time: p.Created, Event: ev, Source: "CircleCI", rank: rankCI}}
	// The moment the pipeline's deploy reached production: the change, the
	// restore, or the fix.
	doneMark := MarkDeployed
	switch {
	case p.Rollback:
		out[0].Mark = MarkMitigationStarted
		doneMark = MarkMitigated
	case p.Fix:
		doneMark = MarkFixDeployed
	default:
		out[0].Mark = MarkDeployStarted
	}
	marked := false
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
		folded := deployJob != nil && !w.Stopped.IsZero() && w.Status == "success" && !w.Stopped.Before(deployJob.Stopped) && w.Stopped.Sub(deployJob.Stopped) <= foldWindow
		for _, j := range w.Jobs {
			if j.Stopped.IsZero() {
				continue
			}
			switch {
			case deployJob != nil && j.Number == deployJob.Number && j.Name == deployJob.Name:
				if folded {
					continue
				}
				e := Entry{Time: j.Stopped, Event: fmt.Sprintf("Job %s succeeded (workflow %s)", j.Name, w.Name), Source: "CircleCI", Link: j.URL, rank: rankCI}
				if !marked {
					e.Mark, marked = doneMark, true
				}
				out = append(out, e)
			case j.Status != "success" && j.Status != "":
				out = append(out, Entry{Time: j.Stopped, Event: fmt.Sprintf("Job %s %s (workflow %s)", j.Name, statusWord(j.Status), w.Name), Source: "CircleCI", Link: j.URL, rank: rankCI})
			}
		}
		if w.Stopped.IsZero() {
			continue
		}
		e := Entry{Time: w.Stopped, Event: fmt.Sprintf("Workflow %s %s after %s", w.Name, statusWord(w.Status), human.Duration(w.Stopped.Sub(w.Created))), Source: "CircleCI", rank: rankCI}
		if p.Rollback {
			e.Event = "Rollback w" + e.Event[1:]
		}
		if folded {
			e.Event += fmt.Sprintf(" (job %s)", deployJob.Name)
			e.Link = deployJob.URL
		}
		if !marked && w.Status == "success" {
			e.Mark, marked = doneMark, true
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
	// Event logs from other tools keep their own name as the source.
	src, rank := e.Verb, rankImported
	if pmguardVerbs[e.Verb] || e.Verb == "" {
		src, rank = strings.TrimSpace("pmguard "+e.Verb), rankPmguard
	}
	if e.Job != "" {
		src += " (job " + e.Job + ")"
	}
	out := Entry{Time: e.Time, Source: src, Impact: figureSummary(e.Figures), Link: e.JobURL, rank: rank}
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

// pmguardVerbs are the verbs whose events are pmguard's own.
var pmguardVerbs = map[string]bool{"health": true, "canary": true, "rollback": true, "notify": true,
	"postmortem": true, "dora": true, "migrations": true, "demo": true}

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
		parts = append(parts, "error rate "+human.Percent(v))
	}
	if k, v, ok := latency(f); ok {
		parts = append(parts, latencyLabel(k)+" "+human.Millis(v))
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

// latencyLabel names a latency figure: p95_ms and latency_p95_ms are
// "p95", latency_ms is "latency".
func latencyLabel(k string) string {
	k = strings.TrimSuffix(k, "_ms")
	if k == "latency" {
		return k
	}
	return strings.TrimPrefix(k, "latency_")
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
		out = append(out, Entry{Time: e.at, Event: strings.TrimSpace(e.Event), Source: src, Impact: strings.TrimSpace(e.Impact), Mark: e.Marks, rank: rankTeam})
	}
	return out
}

// sameMoment is how close two records of one marked moment may be.
const sameMoment = time.Minute

// mergeEntries sorts entries by time and folds records of one moment into
// one row: entries with the same mark within a minute of each other (the
// rollback workflow's end and pmguard's rollback_completed; a monitor's
// alert imported and written by the team), and identical events at the
// same second. The team's words lead a row, then imported systems, then
// pmguard, then CircleCI; the others' sources are kept in Also.
func mergeEntries(groups ...[]Entry) []Entry {
	var all []Entry
	for _, g := range groups {
		all = append(all, g...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	var out []Entry
	used := make([]bool, len(all))
	for i := range all {
		if used[i] {
			continue
		}
		group := []Entry{all[i]}
		for j := i + 1; j < len(all) && all[j].Time.Sub(all[i].Time) <= sameMoment; j++ {
			a, b := all[i], all[j]
			if !used[j] && (a.Mark != "" && a.Mark == b.Mark || a.Time.Equal(b.Time) && strings.EqualFold(a.Event, b.Event)) {
				used[j] = true
				group = append(group, b)
			}
		}
		out = append(out, fold(group))
	}
	return out
}

// fold makes one row of the records of one moment, at the earliest time.
func fold(group []Entry) Entry {
	if len(group) == 1 {
		return group[0]
	}
	at := group[0].Time
	sort.SliceStable(group, func(i, j int) bool { return group[i].rank < group[j].rank })
	e := group[0]
	e.Time = at
	texts := []string{e.Event}
	for _, o := range group[1:] {
		if !containsFold(texts, o.Event) {
			texts = append(texts, o.Event)
		}
		if o.Source != e.Source && !containsFold(e.Also, o.Source) {
			e.Also = append(e.Also, o.Source)
		}
		if e.Impact == "" {
			e.Impact = o.Impact
		}
		if e.Link == "" {
			e.Link = o.Link
		}
	}
	e.Event = strings.Join(texts, " · ")
	return e
}

// containsFold says whether s is in list, or within one of its items.
func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.Contains(strings.ToLower(x), strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// Sources is the entry's source and the sources folded into it.
func (e Entry) Sources() string {
	return strings.Join(append([]string{e.Source}, e.Also...), " + ")
}

// isEventLog says whether an artifact path looks like a pmguard event log.
func isEventLog(p string) bool {
	return strings.HasSuffix(strings.ToLower(path.Base(p)), ".jsonl")
}
