package postmortem

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/human"
)

// Document is the post-mortem draft, ready to render.
type Document struct {
	Title     string
	Severity  string
	Generated time.Time
	Location  *time.Location
	// Authors and Trigger are the Google SRE template's fields.
	Authors  []string
	Trigger  string
	Summary  []string
	Impact   ImpactFigures
	Timeline []Entry
	Moments  Moments
	Phases   []Phase
	Measures Measures

	RootCause      string
	FiveWhys       []Why
	WhysArePrompts bool
	Contributing   []string
	WentWell       []string
	WentWrong      []string
	GotLucky       []string
	Actions        []ActionItem
	Lessons        []string
	// FollowUp is the post-mortem meeting's date as set ("" when only due).
	FollowUp string
	Runs     []Pipeline
	Notes    []string
	// Incomplete names the inputs that could not be read whole (the
	// event log, CircleCI, an importer): the draft says so at its top.
	Incomplete []string
}

// ImpactFigures are the measured effects on users. The window runs from
// the first bad signal to the restore.
type ImpactFigures struct {
	Start         time.Time
	End           time.Time
	Duration      time.Duration
	Measured      bool
	PeakErrorRate float64
	HasErrorRate  bool
	Latency       string
	Endpoints     []string
	Users         string
}

// Input is everything a draft is built from.
type Input struct {
	Title    string
	FollowUp time.Time
	Now      time.Time
	Incident *Incident
	Events   []events.Event
	// Pipelines are the failed deploy, the rollback and the fixing deploy,
	// when fetched.
	Pipelines []Pipeline
	// Entries are timeline entries from other systems (monitoring, paging,
	// chat), each with its own Source; they are merged like the rest.
	Entries []Entry
	// ImpactStart and ImpactEnd set the impact window by hand (the first
	// bad signal, the restore), over incident.yml's and the marks.
	ImpactStart, ImpactEnd time.Time
	Notes                  []string
	Incomplete             []string
	// Redact removes secrets from what the draft quotes of text the team
	// did not write (commits, event logs, imported entries): the run's
	// Redactor.Text; nil: httpx.RedactText, credential shapes only.
	Redact func(string) string
}

// IncompleteText is the draft's warning that some inputs could not be
// read whole ("" when every one was).
func (d *Document) IncompleteText() string {
	if len(d.Incomplete) == 0 {
		return ""
	}
	names := d.Incomplete
	list := names[0]
	if n := len(names); n > 1 {
		list = strings.Join(names[:n-1], ", ") + " and " + names[n-1]
	}
	return "this draft was written without complete data from " + list + ": the timeline and the measures may lack what could not be read (see Notes on the inputs)."
}

// Build assembles the draft.
func Build(in Input) *Document {
	inc := in.Incident
	if inc == nil {
		inc = &Incident{}
	}
	d := &Document{Generated: in.Now.UTC(), Location: inc.Location(), Severity: inc.Severity, Notes: in.Notes, Incomplete: in.Incomplete,
		Authors: inc.Authors, Trigger: strings.TrimSpace(inc.Trigger)}

	var logins []string
	for _, p := range in.Pipelines {
		logins = append(logins, p.Actor)
	}
	redact := in.Redact
	if redact == nil {
		redact = httpx.RedactText
	}
	sc := newScrubber(inc.Roles, logins, redact)
	// The event logs may be another job's or an older release's: what has
	// a credential's shape goes before anything is read from them.
	evs := make([]events.Event, len(in.Events))
	for i, e := range in.Events {
		evs[i] = e.Redacted(redact)
	}
	in.Events = evs
	rollbackEvent := len(events.Filter(in.Events, events.RollbackInitiated)) > 0
	var ci, ev []Entry
	for _, p := range in.Pipelines {
		p.Subject, p.Body, p.TargetSubject = sc.text(p.Subject), sc.text(p.Body), sc.text(p.TargetSubject)
		d.Runs = append(d.Runs, p)
		pe := pipelineEntries(p, inc.Roles)
		if p.Rollback && rollbackEvent {
			// pmguard's rollback_initiated row says where to; the
			// pipeline's trigger is folded into it.
			pe[0].Event = fmt.Sprintf("Rollback pipeline #%d triggered on %s by %s", p.Number, orText(p.Branch, "tag "+p.Tag), who(p, inc.Roles))
		}
		ci = append(ci, pe...)
	}
	var rb *Pipeline
	for i := range d.Runs {
		if d.Runs[i].Rollback {
			rb = &d.Runs[i]
		}
	}
	for _, e := range in.Events {
		if en, ok := eventEntry(e); ok {
			if e.Event == events.RollbackInitiated {
				en.Event = rollbackStarted(e, rb)
			}
			ev = append(ev, en)
		}
	}
	imported := append([]Entry(nil), in.Entries...)
	for i := range imported {
		if imported[i].rank == rankTeam {
			imported[i].rank = rankImported
		}
	}
	d.Timeline = mergeEntries(sc.entries(ci), sc.entries(ev), sc.entries(imported), incidentEntries(inc))

	meeting := in.FollowUp
	if meeting.IsZero() {
		meeting = inc.FollowUp.Time
	}
	if !meeting.IsZero() {
		d.FollowUp = meeting.Format(time.DateOnly)
	}
	d.measure(firstSet(in.ImpactStart, inc.Impact.start), firstSet(in.ImpactEnd, inc.Impact.end), meeting, inc.ActionItems)
	d.Impact.Start, d.Impact.End = d.Moments.FirstSignal, d.Moments.Restored
	d.Impact.Duration, d.Impact.Measured = d.Measures.Impact.Duration, d.Measures.Impact.Measured
	d.impact(in.Events, inc)

	d.Title = firstNonEmpty(in.Title, inc.Title, d.defaultTitle(in.Pipelines))
	if d.Trigger == "" {
		d.Trigger = d.defaultTrigger()
	}
	d.summarize(inc)

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
	return d
}

// rollbackStarted is the rollback_initiated row: where the rollback went,
// as the target pipeline's number and the target commit's short hash and
// subject (not the branch head CircleCI records for the rollback pipeline).
func rollbackStarted(e events.Event, rb *Pipeline) string {
	var f events.Rollback
	e.Decode(&f)
	p := Pipeline{TargetNumber: int64(f.TargetPipelineNumber), TargetRevision: strings.TrimSpace(f.TargetRevision)}
	if rb != nil {
		if p.TargetNumber == 0 {
			p.TargetNumber = rb.TargetNumber
		}
		if p.TargetRevision == "" {
			p.TargetRevision = rb.TargetRevision
		}
		if rb.TargetRevision != "" && strings.HasPrefix(rb.TargetRevision, short(p.TargetRevision)) {
			p.TargetSubject = rb.TargetSubject
		}
	}
	if t := rollbackTarget(p); t != "" {
		return "Rollback started through CircleCI to " + t
	}
	if m := strings.TrimSpace(e.Message); m != "" {
		return "Rollback started through CircleCI: " + m
	}
	return "Rollback started through CircleCI"
}

// defaultTrigger names the failed deploy as the incident's trigger.
func (d *Document) defaultTrigger() string {
	for _, p := range d.Runs {
		if !p.Rollback && !p.Fix {
			s := fmt.Sprintf("Deploy pipeline #%d", p.Number)
			if c := commitText(p.Revision, p.Subject); c != "" {
				s += " (" + c + ")"
			}
			return s
		}
	}
	return ""
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

// missing is the prompt for a measure that needs mark m after t: prompt,
// unless m is marked but only before t (out of order, or a time of day
// past midnight written without its date), which it says instead.
func (d *Document) missing(m Mark, t time.Time, prompt string) string {
	if t.IsZero() || !d.firstAfter(m, t).IsZero() {
		return prompt
	}
	for _, e := range d.Timeline {
		if e.Mark == m && e.Time.Before(t) {
			return fmt.Sprintf("the %s mark (%s) is before the alert (%s): check its time (a time after midnight needs its date)",
				m, e.Time.In(d.Location).Format("2006-01-02 15:04"), t.In(d.Location).Format("2006-01-02 15:04"))
		}
	}
	return prompt
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
		// Latency counts from failing probes only: a passing check's
		// latency is not the users' experience of the incident.
		failing := strings.HasSuffix(e.Event, "_failed") || e.Event == events.CanaryInconclusive
		if k, v, ok := latency(e.Figures); ok && !restored && failing && v > peakLat {
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
		lat = append(lat, "peak "+latencyLabel(latKey)+" "+human.Millis(peakLat)+" in pmguard's checks")
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
func (d *Document) summarize(inc *Incident) {
	if s := strings.TrimSpace(inc.Summary); s != "" {
		d.Summary = append(d.Summary, s)
	}
	var facts []string
	var deploy *Pipeline
	for i := range d.Runs {
		if !d.Runs[i].Rollback && !d.Runs[i].Fix && deploy == nil {
			deploy = &d.Runs[i]
		}
	}
	m, ms := d.Moments, d.Measures
	if deploy != nil {
		s := fmt.Sprintf("Deploy pipeline #%d", deploy.Number)
		if deploy.Branch != "" {
			s += " on " + deploy.Branch
		}
		if deploy.Revision != "" {
			s += fmt.Sprintf(" (commit %s)", short(deploy.Revision))
		}
		if !m.Deployed.IsZero() {
			s += fmt.Sprintf(" reached production at %s on %s.", d.clock(m.Deployed), m.Deployed.In(d.Location).Format("2006-01-02 MST"))
		} else {
			s += fmt.Sprintf(" was triggered on %s.", deploy.Created.In(d.Location).Format("2006-01-02 15:04 MST"))
		}
		facts = append(facts, s)
	}
	if !m.FirstSignal.IsZero() && !m.Alert.IsZero() && m.FirstSignal.Before(m.Alert) {
		facts = append(facts, fmt.Sprintf("The first bad signal came at %s.", d.clock(m.FirstSignal)))
	}
	if !m.Alert.IsZero() {
		s := "The alert fired at " + d.clock(m.Alert)
		if ms.Unnoticed.Measured {
			s += fmt.Sprintf(": the regression went unnoticed for %s after the deploy", human.Duration(ms.Unnoticed.Duration))
		}
		if ms.TimeToDetect.Measured {
			s += fmt.Sprintf(" (time to detect from the first bad signal: %s)", human.Duration(ms.TimeToDetect.Duration))
		}
		if d.Impact.HasErrorRate {
			s += fmt.Sprintf("; the error rate peaked at %s", human.Percent(d.Impact.PeakErrorRate))
		}
		s += "."
		if ms.TimeToAcknowledge.Measured {
			s += fmt.Sprintf(" On-call acknowledged it %s later.", human.Duration(ms.TimeToAcknowledge.Duration))
		}
		facts = append(facts, s)
	}
	if t := m.Restored; !t.IsZero() {
		s := "Service was restored at " + d.clock(t)
		if d.first(MarkMitigationStarted).IsZero() {
			s += "."
		} else {
			s += " by a rollback through CircleCI."
		}
		if ms.TimeToMitigate.Measured {
			s += fmt.Sprintf(" Time to mitigate: %s from the alert", human.Duration(ms.TimeToMitigate.Duration))
			if d.Impact.Measured {
				s += fmt.Sprintf("; users were affected for about %s (%s → %s)", human.Duration(d.Impact.Duration), d.clock(d.Impact.Start), d.clock(d.Impact.End))
			}
			s += "."
		}
		facts = append(facts, s)
	}
	if t := m.AllClear; !t.IsZero() {
		facts = append(facts, "The all clear was given at "+d.clock(t)+".")
	}
	if t := m.FixDeployed; !t.IsZero() {
		s := "The root-cause fix reached production at " + d.clock(t)
		if ms.TimeToResolve.Measured {
			s += fmt.Sprintf(", %s after the alert", human.Duration(ms.TimeToResolve.Duration))
		}
		facts = append(facts, s+".")
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
	// Open is a phase that has started and not ended: its entries run
	// from its start to the end of the timeline.
	Open bool
}

// responsePhases are the phases the timeline spans (Detection to
// Resolution); Post-mortem and Follow-up run for days after it.
func (d *Document) responsePhases() []Phase {
	return d.Phases[:min(4, len(d.Phases))]
}

// PhaseSections lists the time the regression went unnoticed and each
// response phase with its entries: those from its start up to (not
// including) its end. What follows the last measured phase belongs to the
// next phase when that one has started but not ended (service restored,
// the fix not yet deployed: Resolution is open), else to the last measured
// phase.
func (d *Document) PhaseSections() []PhaseSection {
	ps := d.responsePhases()
	unnoticed := Phase{Measure: d.Measures.Unnoticed, StartEvent: "the deploy reached production", EndEvent: "alert fired", Result: "not measured"}
	unnoticed.Name, unnoticed.Means = "Before the alert", "the regression was in production, unnoticed"
	all := append([]Phase{unnoticed}, ps...)
	lastMeasured := -1
	for i, p := range all {
		if p.Measured {
			lastMeasured = i
		}
	}
	open := -1 // the phase under way after the last measured one
	if n := lastMeasured + 1; lastMeasured >= 0 && n < len(all) && !all[n].From.IsZero() && all[n].To.IsZero() {
		open = n
	}
	out := make([]PhaseSection, len(all))
	for i, p := range all {
		out[i].Phase = p
		out[i].Open = i == open
		if !p.Measured && i != open {
			continue
		}
		for _, e := range d.Timeline {
			if e.Time.Before(p.From) {
				continue
			}
			if i == open || e.Time.Before(p.To) || i == lastMeasured && open < 0 {
				out[i].Entries = append(out[i].Entries, e)
			}
		}
	}
	return out
}
