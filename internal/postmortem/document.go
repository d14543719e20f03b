package postmortem

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/events"
)

// Document is the post-mortem draft, ready to render.
type Document struct {
	Title     string         `json:"title"`
	Severity  string         `json:"severity,omitempty"`
	Generated time.Time      `json:"generated"`
	Location  *time.Location `json:"-"`
	Summary   []string       `json:"summary"`
	Impact    ImpactFigures  `json:"impact"`
	Timeline  []Entry        `json:"timeline"`
	Phases    []Phase        `json:"phases"`
	Measures  Measures       `json:"measures"`

	RootCause      string       `json:"root_cause,omitempty"`
	FiveWhys       []Why        `json:"five_whys"`
	WhysArePrompts bool         `json:"five_whys_are_prompts"`
	Contributing   []string     `json:"contributing_factors"`
	WentWell       []string     `json:"went_well"`
	WentWrong      []string     `json:"went_wrong"`
	GotLucky       []string     `json:"got_lucky"`
	Actions        []ActionItem `json:"action_items"`
	Lessons        []string     `json:"lessons_learned"`
	FollowUp       string       `json:"follow_up"`
	Runs           []Pipeline   `json:"-"`
	Notes          []string     `json:"notes,omitempty"`
}

// ImpactFigures are the measured effects on users.
type ImpactFigures struct {
	Start         time.Time     `json:"start,omitzero"`
	End           time.Time     `json:"end,omitzero"`
	Duration      time.Duration `json:"duration_ns"`
	PeakErrorRate float64       `json:"peak_error_rate"`
	HasErrorRate  bool          `json:"-"`
	Latency       string        `json:"latency,omitempty"`
	Endpoints     []string      `json:"failing_endpoints,omitempty"`
	Users         string        `json:"users,omitempty"`
}

// Phase is one stage of the response with its measured span.
type Phase struct {
	Name     string        `json:"name"`
	From     time.Time     `json:"from,omitzero"`
	To       time.Time     `json:"to,omitzero"`
	Duration time.Duration `json:"duration_ns"`
	Measured bool          `json:"measured"`
	Means    string        `json:"means"`
	Missing  string        `json:"missing,omitempty"`
}

// Measures are the response's key durations; zero means not measured.
type Measures struct {
	TimeToDetect   time.Duration `json:"time_to_detect_ns"`
	TimeToMitigate time.Duration `json:"time_to_mitigate_ns"`
	TimeToRestore  time.Duration `json:"time_to_restore_ns"`
	TimeToResolve  time.Duration `json:"time_to_resolve_ns"`
}

// Input is everything a draft is built from.
type Input struct {
	Title     string
	FollowUp  time.Time
	Now       time.Time
	Incident  *Incident
	Events    []events.Event
	Pipelines []Pipeline // the failed deploy and the rollback, when fetched
	// Imported are entries read from Datadog, PagerDuty and Slack.
	Imported []Entry
	Notes    []string
}

// Build assembles the draft.
func Build(in Input) *Document {
	inc := in.Incident
	if inc == nil {
		inc = &Incident{}
	}
	d := &Document{Generated: in.Now.UTC(), Location: inc.Location(), Severity: inc.Severity, Runs: in.Pipelines, Notes: in.Notes}

	var ci, ev []Entry
	for _, p := range in.Pipelines {
		ci = append(ci, pipelineEntries(p, inc.Roles)...)
	}
	for _, e := range in.Events {
		if en, ok := eventEntry(e); ok {
			ev = append(ev, en)
		}
	}
	d.Timeline = mergeEntries(ci, ev, incidentEntries(inc), in.Imported)
	d.measure()
	d.impact(in.Events, inc)

	d.Title = firstNonEmpty(in.Title, inc.Title, d.defaultTitle(in.Pipelines))
	d.summarize(inc, in.Pipelines)

	d.RootCause = strings.TrimSpace(inc.RootCause)
	d.FiveWhys = inc.FiveWhys
	if len(d.FiveWhys) == 0 {
		d.WhysArePrompts = true
		d.FiveWhys = whyPrompts
	}
	d.Contributing = inc.ContributingFactors
	d.WentWell, d.WentWrong, d.GotLucky = inc.WentWell, inc.WentWrong, inc.GotLucky
	d.Actions = inc.ActionItems
	d.Lessons = inc.LessonsLearned
	switch {
	case !in.FollowUp.IsZero():
		d.FollowUp = in.FollowUp.Format(time.DateOnly)
	case !inc.FollowUp.IsZero():
		d.FollowUp = inc.FollowUp.String()
	}
	return d
}

// whyPrompts are asked when the team has not written its 5 Whys yet. They
// ask about the system and its safeguards, never about a person.
var whyPrompts = []Why{
	{Why: "Why did users see errors?"},
	{Why: "Why did the change that caused it reach production?"},
	{Why: "Why did no check before production catch it?"},
	{Why: "Why did it take this long to detect and mitigate?"},
	{Why: "Why does the system allow this class of failure at all?"},
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if strings.TrimSpace(v) != "" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (d *Document) defaultTitle(ps []Pipeline) string {
	for _, p := range ps {
		if !p.Rollback {
			return fmt.Sprintf("Post-mortem: deploy #%d", p.Number)
		}
	}
	if t := d.first(MarkDetected); !t.IsZero() {
		return "Post-mortem: incident of " + t.In(d.Location).Format("2006-01-02 15:04 MST")
	}
	return "Post-mortem draft"
}

// first returns the time of the first entry with mark m, or zero.
func (d *Document) first(m Mark) time.Time {
	for _, e := range d.Timeline {
		if e.Mark == m {
			return e.Time
		}
	}
	return time.Time{}
}

// firstAfter returns the first entry with mark m at or after t.
func (d *Document) firstAfter(m Mark, t time.Time) time.Time {
	for _, e := range d.Timeline {
		if e.Mark == m && !e.Time.Before(t) {
			return e.Time
		}
	}
	return time.Time{}
}

func (d *Document) last(m Mark) time.Time {
	var t time.Time
	for _, e := range d.Timeline {
		if e.Mark == m {
			t = e.Time
		}
	}
	return t
}

// measure derives the phases from the marked moments:
// detection = impact start (else the deploy) → detected; triage = detected →
// root cause; mitigation = root cause → mitigated; resolution = mitigated →
// resolved.
func (d *Document) measure() {
	detected := d.first(MarkDetected)
	impact := d.first(MarkImpactStart)
	if impact.IsZero() {
		// The change reached production at the last deploy before the
		// detection; undetected, at the first deploy (later ones may be the
		// rollback's own checks).
		for _, e := range d.Timeline {
			if e.Mark == MarkDeployed && (detected.IsZero() && impact.IsZero() || !detected.IsZero() && !e.Time.After(detected)) {
				impact = e.Time
			}
		}
	}
	var mitigated, rootCause, resolved time.Time
	if !detected.IsZero() {
		mitigated = d.firstAfter(MarkMitigated, detected)
		rootCause = d.firstAfter(MarkRootCause, detected)
	} else {
		mitigated = d.first(MarkMitigated)
		rootCause = d.first(MarkRootCause)
	}
	resolved = d.last(MarkResolved)
	triageEnd := rootCause
	if triageEnd.IsZero() {
		triageEnd = d.firstAfter(MarkMitigationStarted, detected)
	}

	span := func(name, means, missing string, from, to time.Time) Phase {
		p := Phase{Name: name, From: from, To: to, Means: means}
		if !from.IsZero() && !to.IsZero() && !to.Before(from) {
			p.Measured, p.Duration = true, to.Sub(from)
		} else {
			p.Missing = missing
		}
		return p
	}
	d.Phases = []Phase{
		span("Detection", "from the change reaching production (or the impact's start) to the first alert or failed guard",
			"mark an entry impact_start or detected in incident.yml", impact, detected),
		span("Triage", "from detection to the root cause being found (or mitigation starting)",
			"mark an entry root_cause in incident.yml", detected, triageEnd),
		span("Mitigation", "from the end of triage to service being restored (rollback complete)",
			"mark an entry mitigated in incident.yml, or let the rollback's events and pipeline show it", triageEnd, mitigated),
		span("Resolution", "from service being restored to the all clear",
			"mark an entry resolved in incident.yml", mitigated, resolved),
	}
	if !impact.IsZero() && !detected.IsZero() && !detected.Before(impact) {
		d.Measures.TimeToDetect = detected.Sub(impact)
	}
	if !detected.IsZero() && !mitigated.IsZero() {
		d.Measures.TimeToMitigate = mitigated.Sub(detected)
	}
	if !impact.IsZero() && !mitigated.IsZero() && !mitigated.Before(impact) {
		d.Measures.TimeToRestore = mitigated.Sub(impact)
	}
	if !detected.IsZero() && !resolved.IsZero() && !resolved.Before(detected) {
		d.Measures.TimeToResolve = resolved.Sub(detected)
	}
	d.Impact.Start, d.Impact.End = impact, mitigated
	if !impact.IsZero() && !mitigated.IsZero() && mitigated.After(impact) {
		d.Impact.Duration = mitigated.Sub(impact)
	}
}

// impact gathers the peak figures from the events and the team's notes.
func (d *Document) impact(evs []events.Event, inc *Incident) {
	var peakLat float64
	var latKey string
	endpoints := map[string]bool{}
	for _, e := range evs {
		// Figures taken once service was restored are not the impact.
		restored := !d.Impact.End.IsZero() && !e.Time.Before(d.Impact.End)
		if v, ok := errorRate(e.Figures); ok && !restored && (!d.Impact.HasErrorRate || v > d.Impact.PeakErrorRate) {
			d.Impact.PeakErrorRate, d.Impact.HasErrorRate = v, true
		}
		if k, v, ok := latency(e.Figures); ok && !restored && v > peakLat {
			peakLat, latKey = v, k
		}
		if strings.HasSuffix(e.Event, "_failed") && e.Verb != "notify" && e.Verb != "rollback" && e.Target != "" {
			endpoints[e.Target] = true
		}
	}
	if inc.Impact.PeakErrorRate > 0 && float64(inc.Impact.PeakErrorRate) > d.Impact.PeakErrorRate {
		d.Impact.PeakErrorRate, d.Impact.HasErrorRate = float64(inc.Impact.PeakErrorRate), true
	}
	var lat []string
	if s := strings.TrimSpace(inc.Impact.Latency); s != "" {
		lat = append(lat, s)
	}
	if peakLat > 0 {
		lat = append(lat, "peak "+latencyLabel(latKey)+" "+fmtMS(peakLat)+" in pmguard's checks")
	}
	d.Impact.Latency = strings.Join(lat, "; ")
	for _, e := range inc.Impact.Endpoints {
		endpoints[e] = true
	}
	for e := range endpoints {
		d.Impact.Endpoints = append(d.Impact.Endpoints, e)
	}
	sort.Strings(d.Impact.Endpoints)
	d.Impact.Users = strings.TrimSpace(inc.Impact.Users)
}

// clock shows a time of day; to the second when the whole timeline spans
// under ten minutes, where minutes would blur the order.
func (d *Document) clock(t time.Time) string {
	if n := len(d.Timeline); n > 1 && d.Timeline[n-1].Time.Sub(d.Timeline[0].Time) < 10*time.Minute {
		return t.In(d.Location).Format("15:04:05")
	}
	return t.In(d.Location).Format("15:04")
}

// summarize writes the opening paragraph from the measured facts, after the
// team's own summary when there is one.
func (d *Document) summarize(inc *Incident, ps []Pipeline) {
	if s := strings.TrimSpace(inc.Summary); s != "" {
		d.Summary = append(d.Summary, s)
	}
	var facts []string
	var deploy *Pipeline
	for i := range ps {
		if !ps[i].Rollback && deploy == nil {
			deploy = &ps[i]
		}
	}
	if deploy != nil {
		s := fmt.Sprintf("Deploy pipeline #%d", deploy.Number)
		if deploy.Branch != "" {
			s += " on " + deploy.Branch
		}
		if deploy.Revision != "" {
			s += fmt.Sprintf(" (commit %s)", short(deploy.Revision))
		}
		if !d.Impact.Start.IsZero() {
			s += fmt.Sprintf(" reached production at %s on %s.", d.clock(d.Impact.Start), d.Impact.Start.In(d.Location).Format("2006-01-02 MST"))
		} else {
			s += fmt.Sprintf(" was triggered on %s.", deploy.Created.In(d.Location).Format("2006-01-02 15:04 MST"))
		}
		facts = append(facts, s)
	}
	if t := d.first(MarkDetected); !t.IsZero() {
		s := "The problem was detected at " + d.clock(t)
		if d.Measures.TimeToDetect > 0 {
			s += fmt.Sprintf(", %s after the change reached production", fmtDur(d.Measures.TimeToDetect))
		}
		if d.Impact.HasErrorRate {
			s += fmt.Sprintf("; the error rate peaked at %s", fmtPct(d.Impact.PeakErrorRate))
		}
		facts = append(facts, s+".")
	}
	if t := d.Impact.End; !t.IsZero() {
		s := "Service was restored at " + d.clock(t)
		if d.first(MarkMitigationStarted).IsZero() {
			s += "."
		} else {
			s += " by a rollback through CircleCI."
		}
		if d.Measures.TimeToMitigate > 0 {
			s += fmt.Sprintf(" Time to mitigate: %s from detection", fmtDur(d.Measures.TimeToMitigate))
			if d.Impact.Duration > 0 {
				s += fmt.Sprintf("; users were affected for about %s", fmtDur(d.Impact.Duration))
			}
			s += "."
		}
		facts = append(facts, s)
	}
	if t := d.last(MarkResolved); !t.IsZero() {
		facts = append(facts, "The all clear was given at "+d.clock(t)+".")
	}
	if len(facts) > 0 {
		d.Summary = append(d.Summary, strings.Join(facts, " "))
	}
	if len(d.Summary) == 0 {
		d.Summary = []string{"No deploy, alert or rollback was found in the inputs; add the event logs, the pipeline ids or incident.yml."}
	}
}

// ImpactDurationText is the impact's duration as shown in the documents.
func (d *Document) ImpactDurationText() string { return d.impactDuration() }

// PeakErrorRateText is the peak error rate as shown in the documents.
func (d *Document) PeakErrorRateText() string { return d.peakErrorRate() }

// PhaseSection is a phase with the timeline entries that happened in it.
type PhaseSection struct {
	Phase   Phase
	Entries []Entry
}

// PhaseSections lists each phase with its entries: those from its start up
// to (not including) its end, and for the last phase its end too.
func (d *Document) PhaseSections() []PhaseSection {
	out := make([]PhaseSection, len(d.Phases))
	for i, p := range d.Phases {
		out[i].Phase = p
		if !p.Measured {
			continue
		}
		last := i == len(d.Phases)-1
		for _, e := range d.Timeline {
			if !e.Time.Before(p.From) && (e.Time.Before(p.To) || last && e.Time.Equal(p.To)) {
				out[i].Entries = append(out[i].Entries, e)
			}
		}
	}
	return out
}
