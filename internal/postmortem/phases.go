package postmortem

import (
	"fmt"
	"time"

	"github.com/pmguard/pmguard/internal/human"
)

// The incident's phases follow the prevention plan: each has a start and
// an end event, a measured duration and a target window. Windows are
// offsets from the alert (T+0), the moment the response starts; a phase
// meets its target when it ends within its window.

// Window is a phase's target, as offsets from the alert. (postmortem.json
// is written from export.go's types, not from these.)
type Window struct {
	From time.Duration
	To   time.Duration
	Text string
}

// Phase is one stage of the response: its measured span, and how that span
// compares with the stage's target window.
type Phase struct {
	Measure
	// StartEvent and EndEvent name the moments the phase runs between.
	StartEvent string
	EndEvent   string
	// StartOffset and EndOffset are From and To as offsets from the alert.
	StartOffset time.Duration
	EndOffset   time.Duration
	HasOffsets  bool
	Target      Window
	// Result is met, missed, due (planned, not yet happened) or not measured.
	Result string
	// Planned says To is a due date or deadline, not a recorded moment.
	Planned bool
}

// Measure is one of the response's standard figures.
type Measure struct {
	Name     string
	From     time.Time
	To       time.Time
	Duration time.Duration
	// Measured is false when a moment is missing; a measured 0 s is real.
	Measured bool
	Means    string
	Missing  string
}

// Measures are the standard incident-response figures.
type Measures struct {
	TimeToDetect      Measure // first bad signal → alert
	TimeToAcknowledge Measure // alert → acknowledgement
	TimeToMitigate    Measure // alert → service restored
	TimeToResolve     Measure // alert → the root-cause fix deployed
	Impact            Measure // first bad signal → restored
	// Unnoticed is the time the regression went unnoticed: the deploy
	// reaching production → the alert.
	Unnoticed Measure
	// Meeting is the post-mortem meeting: the date set, else due three
	// days after the first bad signal.
	Meeting     time.Time
	MeetingSet  bool
	MeetingDue  time.Time
	ActionItems int
	ActionsDone int
}

// List is the measures in the order the documents show them.
func (m *Measures) List() []Measure {
	return []Measure{m.TimeToDetect, m.TimeToAcknowledge, m.TimeToMitigate, m.TimeToResolve, m.Impact, m.Unnoticed}
}

// Completion is the share of action items closed (done or won't do).
func (m *Measures) Completion() (float64, bool) {
	if m.ActionItems == 0 {
		return 0, false
	}
	return float64(m.ActionsDone) / float64(m.ActionItems), true
}

// The plan's target windows.
var (
	detectionWindow  = Window{0, 5 * time.Minute, "T+0–5 min"}
	triageWindow     = Window{5 * time.Minute, 15 * time.Minute, "T+5–15 min"}
	mitigationWindow = Window{15 * time.Minute, time.Hour, "T+15–60 min"}
	resolutionWindow = Window{time.Hour, 4 * time.Hour, "T+1–4 h"}
	postmortemWindow = Window{24 * time.Hour, 72 * time.Hour, "1–3 days after"}
	followUpWindow   = Window{14 * 24 * time.Hour, 28 * 24 * time.Hour, "1–2 sprints (2–4 weeks)"}
)

// meetingDue is when the post-mortem meeting is due after the first bad
// signal; the Slack reminder defaults to it.
const meetingDue = 72 * time.Hour

// Moments are the instants the phases and measures are taken between.
type Moments struct {
	Deployed    time.Time // the change reached production
	FirstSignal time.Time
	Alert       time.Time
	Ack         time.Time
	Triaged     time.Time
	Restored    time.Time
	AllClear    time.Time
	FixDeployed time.Time
}

// moments finds the instants: marked entries, overridden by the impact
// window set by hand (impactStart, impactEnd).
func (d *Document) moments(impactStart, impactEnd time.Time) Moments {
	var m Moments
	m.Alert = d.first(MarkDetected)
	m.FirstSignal = d.first(MarkImpactStart)
	if !impactStart.IsZero() {
		m.FirstSignal = impactStart
	}
	if m.FirstSignal.IsZero() || !m.Alert.IsZero() && m.Alert.Before(m.FirstSignal) && impactStart.IsZero() {
		// Without an earlier mark, the alert is the first bad signal known.
		m.FirstSignal = m.Alert
	}
	anchor := firstSet(m.FirstSignal, m.Alert)
	// The change reached production at the last deploy before the first
	// bad signal; with none, at the first deploy (later ones may be the
	// rollback's own checks).
	for _, e := range d.Timeline {
		if e.Mark == MarkDeployed && (anchor.IsZero() && m.Deployed.IsZero() || !anchor.IsZero() && !e.Time.After(anchor)) {
			m.Deployed = e.Time
		}
	}
	from := firstSet(m.Alert, m.FirstSignal)
	m.Ack = firstSet(d.firstAfter(MarkAcknowledged, from), d.firstAfter(MarkDeclared, from))
	m.Triaged = firstSet(d.firstAfter(MarkTriaged, from), d.firstAfter(MarkRootCause, from), d.firstAfter(MarkMitigationStarted, from))
	m.Restored = d.firstAfter(MarkMitigated, from)
	if !impactEnd.IsZero() {
		m.Restored = impactEnd
	}
	m.AllClear = d.last(MarkResolved)
	m.FixDeployed = d.firstAfter(MarkFixDeployed, from)
	return m
}

// firstSet returns the first non-zero time.
func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}

// between measures from → to; zero ends or a reversed span are "not measured".
func between(name, means, missing string, from, to time.Time) Measure {
	m := Measure{Name: name, From: from, To: to, Means: means}
	if !from.IsZero() && !to.IsZero() && !to.Before(from) {
		m.Measured, m.Duration = true, to.Sub(from)
	} else {
		m.Missing = missing
	}
	return m
}

// measure derives the measures and the six phases from the moments.
func (d *Document) measure(impactStart, impactEnd, meeting time.Time, actions []ActionItem) {
	m := d.moments(impactStart, impactEnd)
	d.Moments = m
	from := firstSet(m.Alert, m.FirstSignal) // where the marks are looked for
	ms := &d.Measures
	ms.TimeToDetect = between("time to detect", "first bad signal → alert",
		"mark the alert detected (and an earlier first bad signal impact_start, or set impact.start)", m.FirstSignal, m.Alert)
	ms.TimeToAcknowledge = between("time to acknowledge", "alert → on-call acknowledged",
		d.missing(MarkAcknowledged, from, "mark the acknowledgement (acknowledged or declared)"), m.Alert, m.Ack)
	ms.TimeToMitigate = between("time to mitigate", "alert → service restored",
		d.missing(MarkMitigated, from, "mark the restore mitigated (a rollback's events and pipeline do)"), m.Alert, m.Restored)
	ms.TimeToResolve = between("time to resolve", "alert → the root-cause fix deployed",
		"no fixing deploy found in CircleCI after the rollback; mark it fix_deployed", m.Alert, m.FixDeployed)
	ms.Impact = between("impact", "first bad signal → service restored",
		"mark the first bad signal and the restore, or set impact.start and impact.end", m.FirstSignal, m.Restored)
	ms.Unnoticed = between("unnoticed for", "the deploy reaching production → the alert",
		"no deploy before the alert was found", m.Deployed, m.Alert)

	start := firstSet(m.FirstSignal, m.Alert)
	if !start.IsZero() {
		ms.MeetingDue = start.Add(meetingDue)
	}
	ms.Meeting, ms.MeetingSet = ms.MeetingDue, !meeting.IsZero()
	if ms.MeetingSet {
		ms.Meeting = meeting
	}
	ms.ActionItems = len(actions)
	var lastDeadline time.Time
	for _, a := range actions {
		if a.closed() {
			ms.ActionsDone++
		}
		if a.Deadline.After(lastDeadline) {
			lastDeadline = a.Deadline.Time
		}
	}

	phase := func(name, startEv, endEv, means, missing string, from, to time.Time, w Window) Phase {
		p := Phase{Measure: between(name, means, missing, from, to), StartEvent: startEv, EndEvent: endEv, Target: w, Result: "not measured"}
		if p.Measured && !m.Alert.IsZero() {
			p.HasOffsets, p.StartOffset, p.EndOffset = true, from.Sub(m.Alert), to.Sub(m.Alert)
			p.Result = "met"
			if p.EndOffset > w.To {
				p.Result = "missed"
			}
		}
		return p
	}
	triageFrom := firstSet(m.Ack, m.Alert)
	// Triage ends at the first of these the timeline marks; the phases
	// name the one that ended it.
	triageEnd := "severity assessed"
	switch {
	case !d.firstAfter(MarkTriaged, from).IsZero():
	case !d.firstAfter(MarkRootCause, from).IsZero():
		triageEnd = "root cause found"
	case !d.firstAfter(MarkMitigationStarted, from).IsZero():
		triageEnd = "mitigation started"
	}
	d.Phases = []Phase{
		phase("Detection", "alert fired", "on-call acknowledged", "the alert fired and the on-call engineer acknowledged it",
			"mark the alert detected and the acknowledgement acknowledged (or declared)", m.Alert, m.Ack, detectionWindow),
		phase("Triage", "on-call acknowledged", triageEnd, "the severity was assessed and the cause narrowed down",
			"mark when the severity was set (triaged), the root cause was found (root_cause) or mitigation started", triageFrom, m.Triaged, triageWindow),
		phase("Mitigation", triageEnd, "service restored", "a rollback or hotfix restored service",
			d.missing(MarkMitigated, from, "mark the restore mitigated (a rollback's events and pipeline do)"), firstSet(m.Triaged, triageFrom), m.Restored, mitigationWindow),
		phase("Resolution", "service restored", "root-cause fix deployed", "the fix of the root cause reached production",
			"no fixing deploy found in CircleCI after the rollback; mark it fix_deployed", m.Restored, m.FixDeployed, resolutionWindow),
	}
	pm := phase("Post-mortem", "first bad signal", "post-mortem meeting", "the blameless review of this document",
		"no incident start known", start, ms.Meeting, postmortemWindow)
	if pm.Measured && !ms.MeetingSet {
		pm.Planned, pm.Result = true, "due"
	} else if pm.Measured && ms.MeetingSet && !sameDayOrBefore(ms.Meeting, ms.MeetingDue) {
		pm.Result = "missed"
	} else if pm.Measured {
		pm.Result = "met"
	}
	fu := phase("Follow-up", "post-mortem meeting", "action items closed", "every action item done",
		"no action items yet", ms.Meeting, lastDeadline, followUpWindow)
	if fu.Measured {
		fu.Planned = true
		switch {
		case ms.ActionsDone == ms.ActionItems:
			fu.Result = "met"
		case fu.EndOffset > followUpWindow.To:
			fu.Result = "missed"
		case d.overdue(actions) > 0:
			fu.Result = "missed"
		default:
			fu.Result = "due"
		}
	}
	d.Phases = append(d.Phases, pm, fu)
}

// overdue counts open action items whose deadline has passed.
func (d *Document) overdue(actions []ActionItem) int {
	n := 0
	for _, a := range actions {
		if !a.closed() && !a.Deadline.IsZero() && a.Deadline.Add(24*time.Hour).Before(d.Generated) {
			n++
		}
	}
	return n
}

// sameDayOrBefore compares calendar days (a meeting set as a date is on
// time on its due day).
func sameDayOrBefore(t, due time.Time) bool {
	y1, m1, d1 := t.UTC().Date()
	y2, m2, d2 := due.UTC().Date()
	return time.Date(y1, m1, d1, 0, 0, 0, 0, time.UTC).Compare(time.Date(y2, m2, d2, 0, 0, 0, 0, time.UTC)) <= 0
}

// offset shows an offset from the alert: T+0, T+3 min, T−5 min.
func offset(d time.Duration) string {
	switch {
	case d == 0:
		return "T+0"
	case d < 0:
		return "T−" + human.Duration(-d)
	}
	return "T+" + human.Duration(d)
}

// offsets shows a phase's span from the alert.
func (p Phase) Offsets() string { return p.offsets() }

func (p Phase) offsets() string {
	if !p.HasOffsets {
		return "—"
	}
	return fmt.Sprintf("%s → %s", offset(p.StartOffset), offset(p.EndOffset))
}

// ResultText is resultText for the HTML template.
func (p Phase) ResultText() string { return p.resultText() }

// measureText shows a measure's value: a measured 0 s is "0 s".
func measureText(m Measure) string {
	if !m.Measured {
		return "not measured"
	}
	return human.Duration(m.Duration)
}
