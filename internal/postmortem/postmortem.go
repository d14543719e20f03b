// Package postmortem turns an incident's CI/CD data into a blameless
// post-mortem draft: it merges the CircleCI runs of the failed deploy and its
// rollback, pmguard's event logs and the team's incident.yml into one
// timeline, measures the response phases, and writes Markdown (with a
// Mermaid diagram GitHub renders) and one self-contained HTML page.
package postmortem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/human"
	"github.com/pmguard/pmguard/internal/notify"
	"github.com/pmguard/pmguard/internal/report"
	"github.com/pmguard/pmguard/internal/verb"
)

// Options are the inputs and dependencies of one run. New fills them from
// the settings; tests fill them directly.
type Options struct {
	// Settings are the settings New read.
	Settings Settings

	// FailedPipeline and RollbackPipeline are CircleCI pipeline ids; empty
	// ones are found in the event log (rollback_initiated) or the job's
	// environment (CurrentPipeline).
	FailedPipeline   string
	RollbackPipeline string
	CurrentPipeline  string
	EventFiles       []string
	// IncidentFile is incident.yml; with IncidentOptional a missing file is
	// fine (the default path), otherwise it is bad input.
	IncidentFile     string
	IncidentOptional bool
	OutDir           string
	Title            string
	FollowUp         time.Time
	// Link is where readers find the draft (the job's artifacts page); it is
	// what goes into the Slack thread.
	Link string

	// CircleCI fetches pipelines and artifacts; nil works from the event logs
	// and incident.yml alone.
	CircleCI *circleci.Client
	// Import reads Datadog, PagerDuty and the Slack thread; nil reads none.
	Import *Importers
	// Notify posts the draft's link into the incident's Slack thread (the
	// notify verb finds the thread from the `notified` events); nil posts
	// nothing.
	Notify func(ctx context.Context, n Notice) error
	// Schedule schedules the post-mortem meeting reminder ReminderDelay
	// after the first bad signal; nil or a zero delay schedules nothing.
	Schedule      func(ctx context.Context, r notify.Reminder) error
	ReminderDelay time.Duration
	// ImpactStart and ImpactEnd set the impact window by hand, as written
	// (resolved with incident.yml's date and timezone).
	ImpactStart, ImpactEnd string
	Log                    *events.Log
	Now                    func() time.Time
	Stdout                 io.Writer
	Stderr                 io.Writer

	d *verb.Deps // nil in tests that build Options directly
}

// Notice is what the Slack post about the draft needs.
type Notice struct {
	Title string
	Link  string
	// IncidentKey is the failed pipeline's id: the notify verb's threads are
	// keyed by it.
	IncidentKey string
	// Events are every event read, the artifacts' included, so the thread
	// reference of another job's `notified` event is found.
	Events         []events.Event
	TimeToMitigate time.Duration
	// Text is the post: the draft's title, its key figures and link.
	Text string
}

// Result says what was written.
type Result struct {
	Markdown string
	HTML     string
	JSON     string
	Document *Document
}

// Run gathers the data, writes postmortem.md, postmortem.html and
// postmortem.json into
// OutDir and posts the link when Notify is set. A CircleCI failure still
// writes the draft from what was found, then exits 3.
func Run(ctx context.Context, o *Options) error {
	ctx, cancel := verb.WithDeadline(ctx, o.Settings.Deadline.Duration)
	defer cancel()
	_, err := o.draft(ctx)
	err = verb.DeadlineReached(ctx, o.Settings.Deadline.Duration, err)
	if o.d != nil {
		return o.d.Redactor.Error(err)
	}
	return err
}

// draft is Run, returning what was written.
func (o *Options) draft(ctx context.Context) (*Result, error) {
	verb.FillClockAndStreams(&o.Now, &o.Stdout, &o.Stderr)
	var inc *Incident
	if o.IncidentFile != "" {
		if _, err := os.Stat(o.IncidentFile); err != nil && o.IncidentOptional && errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(o.Stderr, "pmguard postmortem: no %s; the analysis sections are left as prompts\n", o.IncidentFile)
		} else {
			var err error
			if inc, err = LoadIncident(o.IncidentFile); err != nil {
				return nil, err
			}
		}
	}
	// Bad input stops the run before any request.
	impactStart, impactEnd, err := o.impactWindow(inc)
	if err != nil {
		return nil, err
	}
	evs, skipped, err := readEventFiles(o.EventFiles)
	if err != nil {
		return nil, err
	}

	var notes []string
	if skipped != nil {
		// A line too long to read may be the rollback itself: whoever reads
		// the draft must know the timeline may lack it.
		fmt.Fprintf(o.Stderr, "pmguard postmortem: warning: %v\n", skipped)
		notes = append(notes, skipped.String()+"; the timeline may lack their events.")
	}
	var pipelines []Pipeline
	var fetchErr error
	failed, rollback := pipelineIDs(o, evs)
	if o.CircleCI != nil && failed != "" {
		f := &fetcher{c: o.CircleCI}
		var artEvs []events.Event
		var fetchNotes []string
		pipelines, artEvs, fetchNotes, fetchErr = f.incident(ctx, failed, rollback, targetNumber(evs))
		notes = append(notes, fetchNotes...)
		evs = events.Merge(append(evs, artEvs...))
		// Started from the rollback pipeline, the failed one is known now.
		for _, p := range pipelines {
			if !p.Rollback && !p.Fix && p.ID != "" {
				failed = p.ID
			}
		}
	} else if o.CircleCI == nil {
		notes = append(notes, "CircleCI was not queried (no token); the timeline comes from the event logs and incident.yml.")
	} else {
		notes = append(notes, "No failed pipeline id was given or found in the event log; CircleCI runs are not included.")
	}
	if fetchErr != nil {
		notes = append(notes, "CircleCI data is incomplete: "+fetchErr.Error())
	}

	imported, importNotes, importIncomplete, importErr := o.Import.gather(ctx, importStart(pipelines, evs, inc, o.Now()), o.Now(), evs, failed)
	notes = append(notes, importNotes...)
	printImported(o.Stdout, imported)
	in := Input{Title: o.Title, FollowUp: o.FollowUp, Now: o.Now(), Incident: inc, Events: evs, Pipelines: pipelines, Notes: notes, Entries: imported}
	// What could not be read whole is said at the top of the draft, not
	// only among the notes at its end.
	if skipped != nil {
		in.Incomplete = append(in.Incomplete, "the event log")
	}
	if fetchErr != nil {
		in.Incomplete = append(in.Incomplete, "CircleCI")
	}
	in.Incomplete = append(in.Incomplete, importIncomplete...)
	if o.d != nil {
		in.Redact = o.d.Redactor.Text
	}
	in.ImpactStart, in.ImpactEnd = impactStart, impactEnd
	doc := Build(in)
	res, err := write(o.OutDir, doc)
	if err != nil {
		return nil, err
	}
	printSummary(o.Stdout, doc, res)
	e := events.Event{Verb: "postmortem", Event: events.PostmortemWritten, Target: res.HTML, Message: doc.Title}
	e.SetFigures(figures(doc))
	o.Log.Append(ctx, e) //nolint:errcheck // the draft is written; a lost event is not worth failing for

	if o.Notify != nil {
		n := Notice{Title: doc.Title, Link: o.Link, IncidentKey: failed, Events: evs, TimeToMitigate: doc.Measures.TimeToMitigate.Duration, Text: draftPost(doc, o.Link)}
		if err := o.Notify(ctx, n); err != nil {
			// The draft is written; Slack trouble is a warning.
			fmt.Fprintf(o.Stderr, "pmguard postmortem: warning: posting the link to Slack failed: %v\n", err)
		}
	}
	if o.Schedule != nil && o.ReminderDelay > 0 {
		if r, ok := meetingReminder(doc, failed, o.Link, o.ReminderDelay); ok {
			r.Events, r.IncidentKey, r.Thread = evs, failed, true
			if err := o.Schedule(ctx, r); err != nil {
				fmt.Fprintf(o.Stderr, "pmguard postmortem: warning: scheduling the meeting reminder failed: %v\n", err)
			}
		} else {
			fmt.Fprintln(o.Stdout, "pmguard postmortem: no first bad signal or alert in the timeline: the meeting reminder is not scheduled")
		}
	}
	if fetchErr != nil {
		return res, fmt.Errorf("pmguard postmortem: the draft was written without complete CircleCI data: %w", fetchErr)
	}
	if importErr != nil {
		return res, fmt.Errorf("pmguard postmortem: the draft was written without every imported entry: %w", importErr)
	}
	return res, nil
}

// impactWindow resolves the impact window set by hand.
func (o *Options) impactWindow(inc *Incident) (start, end time.Time, err error) {
	start, end, bad := o.resolveImpact(inc)
	if bad != nil {
		return start, end, config.Invalidf("pmguard postmortem: %s %q: %s; accepted: %s", bad.name, bad.raw, bad.cause, bad.form)
	}
	return start, end, nil
}

// impactError is an impact time that cannot be placed.
type impactError struct{ name, raw, cause, form string }

// resolveImpact places impact_start and impact_end in incident.yml's date
// and timezone (nil inc: UTC, no date).
func (o *Options) resolveImpact(inc *Incident) (start, end time.Time, bad *impactError) {
	if inc == nil {
		inc = &Incident{loc: time.UTC}
	}
	for _, c := range []struct {
		raw, name string
		to        *time.Time
	}{{o.ImpactStart, "impact_start", &start}, {o.ImpactEnd, "impact_end", &end}} {
		if c.raw == "" {
			continue
		}
		var err error
		if *c.to, err = inc.resolve(strings.TrimSpace(c.raw)); err != nil {
			return start, end, &impactError{c.name, c.raw, err.Error(), timeForm}
		}
	}
	if !start.IsZero() && !end.IsZero() && end.Before(start) {
		return start, end, &impactError{"impact_end", o.ImpactEnd, "before impact_start " + strconv.Quote(o.ImpactStart), "a time after impact_start"}
	}
	return start, end, nil
}

// draftPost is the Slack post about the written draft.
func draftPost(d *Document, link string) string {
	s := "Post-mortem draft: " + d.Title + "."
	var figs []string
	for _, m := range []Measure{d.Measures.TimeToMitigate, d.Measures.Impact} {
		if m.Measured {
			figs = append(figs, m.Name+" "+human.Duration(m.Duration))
		}
	}
	if len(figs) > 0 {
		s += " " + upperFirst(strings.Join(figs, ", ")) + "."
	}
	s += " Post-mortem meeting: " + d.meetingText() + "."
	if link != "" {
		s += " " + link
	}
	return s
}

// meetingReminder is the meeting reminder, delay after the incident's
// first bad signal. Its marker names the incident, so a rerun finds it.
func meetingReminder(d *Document, key, link string, delay time.Duration) (notify.Reminder, bool) {
	start := firstSet(d.Moments.FirstSignal, d.Moments.Alert)
	if start.IsZero() {
		return notify.Reminder{}, false
	}
	if key == "" {
		key = "incident-" + strconv.FormatInt(start.Unix(), 10)
	}
	s := fmt.Sprintf("Post-mortem meeting due: %s (incident of %s). Action items: %s.", d.Title,
		start.In(d.Location).Format("2006-01-02 15:04 MST"), d.completionText())
	if link != "" {
		s += " Draft: " + link
	}
	marker := "pmguard post-mortem reminder " + key
	return notify.Reminder{PostAt: start.Add(delay), Text: s + " (" + marker + ")", Marker: marker}, true
}

// targetNumber is the pipeline the rollback went back to, from
// rollback_initiated.
func targetNumber(evs []events.Event) int64 {
	for _, e := range events.Filter(evs, events.RollbackInitiated) {
		var f events.Rollback
		e.Decode(&f)
		if f.TargetPipelineNumber > 0 {
			return int64(f.TargetPipelineNumber)
		}
	}
	return 0
}

func readEventFiles(paths []string) ([]events.Event, events.Skipped, error) {
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			return nil, nil, config.Invalidf("pmguard postmortem: event log %s: %v", p, config.PathCause(err))
		}
	}
	evs, skipped, err := events.ReadFiles(paths...)
	if err != nil {
		return nil, nil, fmt.Errorf("pmguard postmortem: reading event logs: %w", err)
	}
	return evs, skipped, nil
}

// pipelineIDs finds the failed and rollback pipelines: the settings first,
// then the rollback_initiated event, then the current pipeline.
func pipelineIDs(o *Options, evs []events.Event) (failed, rollback string) {
	failed, rollback = o.FailedPipeline, o.RollbackPipeline
	for _, e := range events.Filter(evs, events.RollbackInitiated) {
		var f events.Rollback
		e.Decode(&f)
		if failed == "" {
			failed = strings.TrimSpace(f.FailedPipelineID)
			if failed == "" {
				failed = e.PipelineID
			}
		}
		if rollback == "" {
			rollback = strings.TrimSpace(f.RollbackPipelineID)
		}
	}
	if failed == "" {
		failed = o.CurrentPipeline
	}
	if rollback == failed {
		rollback = ""
	}
	return failed, rollback
}

func write(dir string, doc *Document) (*Result, error) {
	if dir == "" {
		dir = "."
	}
	res := &Result{Markdown: filepath.Join(dir, "postmortem.md"), HTML: filepath.Join(dir, "postmortem.html"), JSON: filepath.Join(dir, "postmortem.json"), Document: doc}
	js, err := doc.JSON()
	if err != nil {
		return nil, fmt.Errorf("pmguard postmortem: rendering JSON: %w", err)
	}
	if err := report.WriteFile(res.JSON, js); err != nil {
		return nil, fmt.Errorf("pmguard postmortem: %w", err)
	}
	if err := report.WriteFile(res.Markdown, []byte(doc.Markdown())); err != nil {
		return nil, fmt.Errorf("pmguard postmortem: %w", err)
	}
	page, err := doc.HTML()
	if err != nil {
		return nil, fmt.Errorf("pmguard postmortem: rendering HTML: %w", err)
	}
	if err := report.WriteFile(res.HTML, page); err != nil {
		return nil, fmt.Errorf("pmguard postmortem: %w", err)
	}
	return res, nil
}

func printSummary(w io.Writer, d *Document, res *Result) {
	fmt.Fprintf(w, "Post-mortem draft: %s\n", d.Title)
	fmt.Fprintf(w, "  Markdown: %s\n  HTML:     %s\n  JSON:     %s\n\n", res.Markdown, res.HTML, res.JSON)
	for _, s := range d.Summary {
		fmt.Fprintf(w, "%s\n\n", s)
	}
	fmt.Fprintf(w, "Timeline (%s):\n", d.Location)
	for _, e := range d.Timeline {
		fmt.Fprintf(w, "  %s  %-60s  [%s]\n", d.clock(e.Time), human.Clip(e.Event, 60), e.Source)
	}
	m := &d.Measures
	fmt.Fprintf(w, "\nTime to detect %s · time to acknowledge %s · time to mitigate %s · time to resolve %s · impact %s · unnoticed for %s\n",
		measureText(m.TimeToDetect), measureText(m.TimeToAcknowledge), measureText(m.TimeToMitigate), measureText(m.TimeToResolve),
		measureText(m.Impact), measureText(m.Unnoticed))
	for _, p := range d.Phases {
		fmt.Fprintf(w, "  %-11s %-22s %-14s target %-24s %s\n", p.Name, p.offsets(), orText(durText(p), "not measured"), p.Target.Text, p.resultText())
	}
}

func durText(p Phase) string {
	if !p.Measured {
		return ""
	}
	return human.Duration(p.Duration)
}

func figures(d *Document) events.Postmortem {
	m := &d.Measures
	return events.Postmortem{TimelineEntries: len(d.Timeline), TimeToDetectS: m.TimeToDetect.Duration.Seconds(),
		TimeToMitigateS: m.TimeToMitigate.Duration.Seconds(), TimeToRestoreS: m.Impact.Duration.Seconds()}
}
