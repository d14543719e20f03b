package postmortem

import (
	"encoding/json"
	"time"
)

// Schema names the layout of postmortem.json (docs/postmortem.md).
const Schema = "pmguard.postmortem/v1"

// The JSON export: every section and figure of the draft, with stable
// snake_case names, times in RFC 3339 (UTC) and durations in seconds. A
// duration that could not be measured is null, so a measured 0 stays 0.
type jsonDoc struct {
	Schema              string         `json:"schema"`
	Title               string         `json:"title"`
	Severity            string         `json:"severity"`
	Status              string         `json:"status"`
	Generated           time.Time      `json:"generated"`
	Timezone            string         `json:"timezone"`
	Authors             []string       `json:"authors"`
	Trigger             string         `json:"trigger"`
	Summary             []string       `json:"summary"`
	Impact              jsonImpact     `json:"impact"`
	Moments             jsonMoments    `json:"moments"`
	Timeline            []jsonEntry    `json:"timeline"`
	Phases              []jsonPhase    `json:"phases"`
	Measures            jsonMeasures   `json:"measures"`
	Meeting             jsonMeeting    `json:"postmortem_meeting"`
	FollowUp            jsonFollowUp   `json:"follow_up"`
	RootCause           string         `json:"root_cause"`
	FiveWhys            []jsonWhy      `json:"five_whys"`
	FiveWhysArePrompts  bool           `json:"five_whys_are_prompts"`
	ContributingFactors []string       `json:"contributing_factors"`
	WentWell            []string       `json:"went_well"`
	WentWrong           []string       `json:"went_wrong"`
	GotLucky            []string       `json:"got_lucky"`
	ActionItems         []jsonAction   `json:"action_items"`
	LessonsLearned      []string       `json:"lessons_learned"`
	Runs                []jsonPipeline `json:"runs"`
	Notes               []string       `json:"notes"`
	Incomplete          []string       `json:"incomplete"`
}

type jsonImpact struct {
	Start            *time.Time `json:"start"`
	End              *time.Time `json:"end"`
	DurationS        *float64   `json:"duration_s"`
	PeakErrorRate    *float64   `json:"peak_error_rate"`
	Latency          string     `json:"latency"`
	FailingEndpoints []string   `json:"failing_endpoints"`
	Users            string     `json:"users"`
}

type jsonMoments struct {
	Deployed       *time.Time `json:"deployed"`
	FirstBadSignal *time.Time `json:"first_bad_signal"`
	Alert          *time.Time `json:"alert"`
	Acknowledged   *time.Time `json:"acknowledged"`
	Triaged        *time.Time `json:"triaged"`
	Restored       *time.Time `json:"restored"`
	AllClear       *time.Time `json:"all_clear"`
	FixDeployed    *time.Time `json:"fix_deployed"`
}

type jsonEntry struct {
	Time     time.Time `json:"time"`
	Event    string    `json:"event"`
	Source   string    `json:"source"`
	AlsoFrom []string  `json:"also_from"`
	Impact   string    `json:"impact"`
	Mark     string    `json:"mark"`
	Link     string    `json:"link"`
}

type jsonWindow struct {
	FromS float64 `json:"from_s"`
	ToS   float64 `json:"to_s"`
	Text  string  `json:"text"`
}

type jsonPhase struct {
	Name         string     `json:"name"`
	StartEvent   string     `json:"start_event"`
	EndEvent     string     `json:"end_event"`
	From         *time.Time `json:"from"`
	To           *time.Time `json:"to"`
	DurationS    *float64   `json:"duration_s"`
	StartOffsetS *float64   `json:"start_offset_s"`
	EndOffsetS   *float64   `json:"end_offset_s"`
	Target       jsonWindow `json:"target"`
	Result       string     `json:"result"`
	Planned      bool       `json:"planned"`
	Means        string     `json:"means"`
	Missing      string     `json:"missing"`
}

type jsonMeasure struct {
	From      *time.Time `json:"from"`
	To        *time.Time `json:"to"`
	DurationS *float64   `json:"duration_s"`
	Means     string     `json:"means"`
	Missing   string     `json:"missing"`
}

type jsonMeasures struct {
	TimeToDetect      jsonMeasure `json:"time_to_detect"`
	TimeToAcknowledge jsonMeasure `json:"time_to_acknowledge"`
	TimeToMitigate    jsonMeasure `json:"time_to_mitigate"`
	TimeToResolve     jsonMeasure `json:"time_to_resolve"`
	Impact            jsonMeasure `json:"impact"`
	UnnoticedFor      jsonMeasure `json:"unnoticed_for"`
}

type jsonMeeting struct {
	Date *string    `json:"date"`
	Due  *time.Time `json:"due"`
}

type jsonFollowUp struct {
	ActionItems int      `json:"action_items"`
	Closed      int      `json:"closed"`
	Completion  *float64 `json:"completion"`
	Overdue     int      `json:"overdue"`
}

type jsonWhy struct {
	Why     string `json:"why"`
	Because string `json:"because"`
}

type jsonAction struct {
	Action   string  `json:"action"`
	Type     string  `json:"type"`
	Priority string  `json:"priority"`
	Owner    string  `json:"owner"`
	Deadline *string `json:"deadline"`
	Status   string  `json:"status"`
	Ticket   string  `json:"ticket"`
}

type jsonPipeline struct {
	Number         int64          `json:"number"`
	Role           string         `json:"role"`
	Branch         string         `json:"branch"`
	Tag            string         `json:"tag"`
	Revision       string         `json:"revision"`
	Subject        string         `json:"subject"`
	Body           string         `json:"body"`
	Trigger        string         `json:"trigger"`
	Created        time.Time      `json:"created"`
	TargetNumber   int64          `json:"target_number"`
	TargetRevision string         `json:"target_revision"`
	TargetSubject  string         `json:"target_subject"`
	Workflows      []jsonWorkflow `json:"workflows"`
}

type jsonWorkflow struct {
	Name    string     `json:"name"`
	Status  string     `json:"status"`
	Created *time.Time `json:"created"`
	Stopped *time.Time `json:"stopped"`
	Jobs    []jsonJob  `json:"jobs"`
}

type jsonJob struct {
	Name    string     `json:"name"`
	Status  string     `json:"status"`
	Number  int64      `json:"number"`
	Started *time.Time `json:"started"`
	Stopped *time.Time `json:"stopped"`
	URL     string     `json:"url"`
}

func tp(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func secs(d time.Duration, ok bool) *float64 {
	if !ok {
		return nil
	}
	s := d.Seconds()
	return &s
}

func jm(m Measure) jsonMeasure {
	return jsonMeasure{From: tp(m.From), To: tp(m.To), DurationS: secs(m.Duration, m.Measured), Means: m.Means, Missing: m.Missing}
}

func list[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// JSON renders the draft as postmortem.json.
func (d *Document) JSON() ([]byte, error) {
	m := &d.Measures
	out := jsonDoc{Schema: Schema, Title: d.Title, Severity: d.Severity, Status: "draft", Generated: d.Generated.UTC(), Timezone: d.Location.String(),
		Authors: list(d.Authors), Trigger: d.Trigger, Summary: list(d.Summary),
		Impact: jsonImpact{Start: tp(d.Impact.Start), End: tp(d.Impact.End), DurationS: secs(d.Impact.Duration, d.Impact.Measured),
			Latency: d.Impact.Latency, FailingEndpoints: list(d.Impact.Endpoints), Users: d.Impact.Users},
		Moments: jsonMoments{Deployed: tp(d.Moments.Deployed), FirstBadSignal: tp(d.Moments.FirstSignal), Alert: tp(d.Moments.Alert),
			Acknowledged: tp(d.Moments.Ack), Triaged: tp(d.Moments.Triaged), Restored: tp(d.Moments.Restored), AllClear: tp(d.Moments.AllClear),
			FixDeployed: tp(d.Moments.FixDeployed)},
		Measures: jsonMeasures{TimeToDetect: jm(m.TimeToDetect), TimeToAcknowledge: jm(m.TimeToAcknowledge), TimeToMitigate: jm(m.TimeToMitigate),
			TimeToResolve: jm(m.TimeToResolve), Impact: jm(m.Impact), UnnoticedFor: jm(m.Unnoticed)},
		Meeting:   jsonMeeting{Due: tp(m.MeetingDue)},
		FollowUp:  jsonFollowUp{ActionItems: m.ActionItems, Closed: m.ActionsDone, Overdue: d.overdue(d.Actions)},
		RootCause: d.RootCause, FiveWhysArePrompts: d.WhysArePrompts, ContributingFactors: list(d.Contributing),
		WentWell: list(d.WentWell), WentWrong: list(d.WentWrong), GotLucky: list(d.GotLucky), LessonsLearned: list(d.Lessons),
		Notes: list(d.Notes), Incomplete: list(d.Incomplete), Timeline: []jsonEntry{}, Phases: []jsonPhase{}, FiveWhys: []jsonWhy{}, ActionItems: []jsonAction{}, Runs: []jsonPipeline{},
	}
	if d.Impact.HasErrorRate {
		out.Impact.PeakErrorRate = &d.Impact.PeakErrorRate
	}
	if m.MeetingSet {
		s := m.Meeting.Format(time.DateOnly)
		out.Meeting.Date = &s
	}
	if c, ok := m.Completion(); ok {
		out.FollowUp.Completion = &c
	}
	for _, e := range d.Timeline {
		out.Timeline = append(out.Timeline, jsonEntry{Time: e.Time.UTC(), Event: e.Event, Source: e.Source, AlsoFrom: list(e.Also), Impact: e.Impact, Mark: string(e.Mark), Link: e.Link})
	}
	for _, p := range d.Phases {
		jp := jsonPhase{Name: p.Name, StartEvent: p.StartEvent, EndEvent: p.EndEvent, From: tp(p.From), To: tp(p.To), DurationS: secs(p.Duration, p.Measured),
			Target: jsonWindow{FromS: p.Target.From.Seconds(), ToS: p.Target.To.Seconds(), Text: p.Target.Text}, Result: p.Result, Planned: p.Planned,
			Means: p.Means, Missing: p.Missing}
		if p.HasOffsets {
			jp.StartOffsetS, jp.EndOffsetS = secs(p.StartOffset, true), secs(p.EndOffset, true)
		}
		out.Phases = append(out.Phases, jp)
	}
	for _, y := range d.FiveWhys {
		out.FiveWhys = append(out.FiveWhys, jsonWhy(y))
	}
	for _, a := range d.Actions {
		ja := jsonAction{Action: a.Action, Type: string(a.Type), Priority: string(a.Priority), Owner: a.Owner, Status: string(a.Status), Ticket: a.Ticket}
		if !a.Deadline.IsZero() {
			s := a.Deadline.String()
			ja.Deadline = &s
		}
		if ja.Status == "" {
			ja.Status = "open"
		}
		out.ActionItems = append(out.ActionItems, ja)
	}
	for _, p := range d.Runs {
		role := "deploy"
		switch {
		case p.Rollback:
			role = "rollback"
		case p.Fix:
			role = "fix"
		}
		jp := jsonPipeline{Number: p.Number, Role: role, Branch: p.Branch, Tag: p.Tag, Revision: p.Revision, Subject: p.Subject, Body: p.Body,
			Trigger: p.TriggerType, Created: p.Created.UTC(), TargetNumber: p.TargetNumber, TargetRevision: p.TargetRevision, TargetSubject: p.TargetSubject,
			Workflows: []jsonWorkflow{}}
		for _, w := range p.Workflows {
			jw := jsonWorkflow{Name: w.Name, Status: w.Status, Created: tp(w.Created), Stopped: tp(w.Stopped), Jobs: []jsonJob{}}
			for _, j := range w.Jobs {
				jw.Jobs = append(jw.Jobs, jsonJob{Name: j.Name, Status: j.Status, Number: j.Number, Started: tp(j.Started), Stopped: tp(j.Stopped), URL: j.URL})
			}
			jp.Workflows = append(jp.Workflows, jw)
		}
		out.Runs = append(out.Runs, jp)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
