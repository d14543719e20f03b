// Package dora computes DORA's software delivery metrics from a project's
// CircleCI history (the deploy workflow's runs), local git (commit times,
// for lead time) and pmguard's event log (rollbacks, failed guards): the
// five metrics with their DORA levels and a weekly trend, plus CircleCI
// Insights' own MTTR reported apart as CI recovery.
package dora

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/dorastore"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/human"
	"github.com/pmguard/pmguard/internal/report"
	"github.com/pmguard/pmguard/internal/verb"
)

// Options are one run's inputs and dependencies.
type Options struct {
	// Settings are the settings New read (the adapter posts the Slack
	// summary with the Slack ones); Run reads the fields below.
	Settings Settings

	Project   string   // project slug, vcs/org/repo
	Branch    string   // "" for every branch
	Workflows []string // deploy workflow names or globs
	Window    time.Duration
	GitDir    string // local clone for commit times; "" skips lead time
	EventFile []string
	JSON      string
	Markdown  string
	HTML      string
	// Concurrency is how many API requests may be in flight.
	Concurrency int

	// Store is the history store; nil opens DatabaseURL (PostgreSQL), else
	// StorePath (SQLite), else an in-memory store for this run alone.
	Store       *dorastore.Store
	StorePath   string
	DatabaseURL string
	// Overlap is how far before the last sync's cursor a sync reads again,
	// for workflows that finished late.
	Overlap time.Duration
	// Months is how many calendar months the monthly series and trend cover.
	Months  int
	Targets Targets
	// Org is the organisation slug (vcs/org) whose pipeline list is read;
	// ProjectList and Rules name projects explicitly. Any of them makes the
	// report per project, per team and for the organisation.
	Org         string
	ProjectList []string
	Rules       *Rules

	// Synced and Report are what the last Run read and reported.
	Synced *SyncStats
	Report *Report

	CircleCI *circleci.Client
	// Summary reads CircleCI Insights' MTTR of a workflow; nil or an error
	// falls back to computing it from the fetched runs.
	Summary func(ctx context.Context, workflow string) (*CIRecovery, error)
	// Slack posts the summary line; nil posts nothing.
	Slack    func(ctx context.Context, text string) error
	Log      *events.Log
	Now      func() time.Time
	Stdout   io.Writer
	Stderr   io.Writer
	Redactor *httpx.Redactor // nil redacts nothing
}

// Run brings the store up to date, computes the metrics from it and writes
// the reports.
func Run(ctx context.Context, o *Options) error {
	ctx, cancel := verb.WithDeadline(ctx, o.Settings.Deadline.Duration)
	defer cancel()
	_, err := o.measure(ctx)
	return o.Redactor.Error(verb.DeadlineReached(ctx, o.Settings.Deadline.Duration, err))
}

// measure is Run, returning the figures of the project (nil in
// organisation scope, whose figures are the report's units).
func (o *Options) measure(ctx context.Context) (*Figures, error) {
	o.defaults()
	end := o.Now().UTC()
	start := end.Add(-o.Window)
	ms := months(end, o.Months)
	histStart := minTime(start, ms[0].Start)
	st, closeStore, err := o.openStore(ctx)
	if err != nil {
		return nil, err
	}
	defer closeStore()
	if err := o.saveEvents(ctx, st); err != nil {
		return nil, err
	}
	targets, err := o.targets(ctx, st, histStart)
	if err != nil {
		return nil, err
	}
	where := o.Project + " pipelines" + onBranch(o.Branch)
	if o.multi() {
		where = fmt.Sprintf("pipelines of %d named project(s)", len(targets))
		if o.Org != "" {
			where += " and of organisation " + o.Org
		}
	}
	fmt.Fprintf(o.Stdout, "Syncing %s since %s into the %s store ...\n", where, histStart.Format(time.DateOnly), st.Dialect())
	stats, err := syncHistory(ctx, o.CircleCI, st, syncOptions{Org: o.Org, Targets: targets, Overlap: o.Overlap, Now: end,
		Concurrency: o.Concurrency, Rule: o.discovered(histStart)})
	var we *httpx.WaitError
	if errors.As(err, &we) {
		return nil, fmt.Errorf("pmguard dora: reading the CircleCI history: %w; run again later or with a longer deadline, or lower concurrency or set max_rps; what was read is kept in the store", err)
	}
	if circleci.StatusOf(err) == http.StatusTooManyRequests {
		return nil, fmt.Errorf("pmguard dora: reading the CircleCI history: %w; CircleCI's rate limit outlasted pmguard's waits (each at most %s, none past the run's deadline): run again later, or lower concurrency or set max_rps; what was read is kept in the store", err, httpx.MaxRetryAfter)
	}
	if err != nil {
		return nil, fmt.Errorf("pmguard dora: reading the CircleCI history: %w (what was read is kept in the store; the next run reads the rest)", err)
	}
	o.Synced = stats
	fmt.Fprintf(o.Stdout, "Read %d pipelines in %d pages, fetched the workflows of %d (%d API requests) across %d project(s).\n",
		stats.Pipelines, stats.Pages, stats.Fetched, stats.Calls, stats.Projects)
	if o.multi() {
		return nil, o.orgReport(ctx, st, end, start, ms)
	}
	t := targets[0]
	in, sig, err := o.projectInput(ctx, st, t, o.GitDir, start, end, true)
	if err != nil {
		return nil, err
	}
	r := Compute(in)
	u := projectUnit(t.Project, "", in, sig, ms, weeks(ms[0].Start, end), end)
	u.finish(o.Targets)
	o.Report = &Report{Generated: end, Start: start, End: end, Store: st.Dialect(), Sync: stats, Units: []*Unit{u}, Title: t.Project}
	scope := Scope{Project: o.Project, Workflow: strings.Join(o.Workflows, ", "), Branch: o.Branch}
	fmt.Fprintln(o.Stdout)
	r.Text(o.Stdout, scope)
	o.Report.Text(o.Stdout)
	if err := o.write(r, scope); err != nil {
		return r, fmt.Errorf("pmguard dora: %w", err)
	}
	e := events.Event{Verb: "dora", Event: events.DoraComputed, Target: o.Project}
	e.SetFigures(events.Dora{Deploys: r.Frequency.Deploys, PerWeek: r.Frequency.PerWeek, ChangeFailRate: r.ChangeFailRate.Rate,
		ReworkRate: r.Rework.Rate, LeadTimeMedianS: r.LeadTime.Median.Seconds(), RecoveryMedianS: r.Recovery.Median.Seconds(),
		WindowDays: r.Days, FailedDeploys: r.ChangeFailRate.Count, RecoveredDeploys: r.Recovery.Recovered})
	if err := o.Log.Append(ctx, e); err != nil {
		fmt.Fprintf(o.Stderr, "pmguard dora: warning: %v\n", err)
	}
	if o.Slack != nil {
		if err := o.Slack(ctx, r.SlackText(scope)+o.Report.SlackText()); err != nil {
			fmt.Fprintf(o.Stderr, "pmguard dora: warning: posting the summary to Slack failed: %v\n", err)
		}
	}
	return r, nil
}

// multi is whether the run covers several projects (an organisation, a
// list or a projects file): then the report is per project, team and
// organisation.
func (o *Options) multi() bool { return o.Org != "" || len(o.ProjectList) > 0 || o.Rules != nil }

func (o *Options) defaults() {
	verb.FillClockAndStreams(&o.Now, &o.Stdout, &o.Stderr)
	if o.Months < 1 {
		o.Months = 6
	}
}

// projectInput gathers one project's history from the store: its deploy
// runs, the commits they shipped (attributing the new ones with git when a
// clone is given), pmguard's signals and CI recovery.
// CI recovery (Insights' MTTR) is read for this run's project only (ci).
func (o *Options) projectInput(ctx context.Context, st *dorastore.Store, t target, gitDir string, start, end time.Time, ci bool) (Input, []Signal, error) {
	in := Input{Start: start, End: end}
	runs, err := st.Runs(ctx, t.Project, t.Branch, time.Time{})
	if err != nil {
		return in, nil, fmt.Errorf("pmguard dora: reading the store: %w", err)
	}
	in.Deploys = deploys(runs, t.Workflows)
	if len(in.Deploys) == 0 {
		in.Notes = append(in.Notes, fmt.Sprintf("no run of a workflow matching %s was found%s; check deploy_workflow", strings.Join(t.Workflows, ", "), onBranch(t.Branch)))
	}
	evs, err := st.Events(ctx, t.Project)
	if err != nil {
		return in, nil, fmt.Errorf("pmguard dora: reading the store: %w", err)
	}
	for _, e := range evs {
		in.Signals = append(in.Signals, Signal{Time: e.Time, Kind: e.Event, PipelineID: e.PipelineID})
	}
	if gitDir != "" {
		notes, err := attributeNew(ctx, st, t.Project, gitDir, in.Deploys)
		if err != nil {
			in.Notes = append(in.Notes, "lead time of new deploys not measured: "+err.Error())
		}
		in.Notes = append(in.Notes, notes...)
	} else {
		in.Notes = append(in.Notes, "lead time of new deploys not measured: no git repository given (git_dir)")
	}
	cs, err := st.Changes(ctx, t.Project, time.Time{})
	if err != nil {
		return in, nil, fmt.Errorf("pmguard dora: reading the store: %w", err)
	}
	for _, c := range cs {
		in.Changes = append(in.Changes, Change{Commit: c.Commit, Authored: c.Authored, PipelineID: c.PipelineID, Deployed: c.Deployed})
	}
	if !ci {
		return in, in.Signals, nil
	}
	var window []Deploy
	for _, d := range in.Deploys {
		if !d.Created.Before(start) {
			window = append(window, d)
		}
	}
	if wf := mainWorkflow(window); wf != "" {
		in.CIRecovery = o.ciRecovery(ctx, window, wf, &in.Notes)
	}
	return in, in.Signals, nil
}

// attributeNew finds with git the commits of the deploys newer than the
// last one attributed (that one is the baseline) and stores them.
func attributeNew(ctx context.Context, st *dorastore.Store, project, dir string, ds []Deploy) ([]string, error) {
	cs, err := st.Changes(ctx, project, time.Time{})
	if err != nil {
		return nil, err
	}
	var last time.Time
	for _, c := range cs {
		if c.Deployed.After(last) {
			last = c.Deployed
		}
	}
	var fresh []Deploy
	for _, d := range ds {
		if !d.Finished.Before(last) {
			fresh = append(fresh, d)
		}
	}
	changes, notes, err := Attribute(ctx, dir, fresh)
	if err != nil {
		return notes, err
	}
	var out []dorastore.Change
	for _, c := range changes {
		out = append(out, dorastore.Change{Commit: c.Commit, PipelineID: c.PipelineID, Authored: c.Authored, Deployed: c.Deployed})
	}
	return notes, st.SaveChanges(ctx, project, out)
}

// ciRecovery is Insights' MTTR of the workflow, or the same definition over
// the fetched runs when the summary cannot be read.
func (o *Options) ciRecovery(ctx context.Context, ds []Deploy, wf string, notes *[]string) *CIRecovery {
	var ci *CIRecovery
	serr := errors.New("not requested")
	if o.Summary != nil {
		ci, serr = o.Summary(ctx, wf)
	}
	if serr == nil && ci != nil {
		return ci
	}
	ci = ciRecoveryFromRuns(ds, wf)
	if ci != nil {
		*notes = append(*notes, fmt.Sprintf("CI recovery computed from the fetched runs with Insights' definition (Insights summary unavailable: %v)", serr))
	}
	return ci
}

// write writes the JSON, Markdown and HTML reports that were asked for.
func (o *Options) write(r *Figures, scope Scope) error {
	if err := report.WriteJSON(o.JSON, struct {
		Scope
		*Figures
		History *Report `json:"history,omitempty"`
	}{scope, r, o.Report}); err != nil {
		return err
	}
	if o.Markdown != "" {
		text := r.Markdown(scope)
		if o.Report != nil {
			text += "\n# Over time\n\n" + o.Report.Markdown()
		}
		if err := report.WriteFile(o.Markdown, []byte(text)); err != nil {
			return err
		}
	}
	if o.HTML == "" {
		return nil
	}
	page, err := r.HTML(scope, o.Report)
	if err != nil {
		return err
	}
	return report.WriteFile(o.HTML, page)
}

func onBranch(b string) string {
	if b == "" {
		return ""
	}
	return " on " + b
}

// mainWorkflow is the deploy workflow name seen most often.
func mainWorkflow(ds []Deploy) string {
	count := map[string]int{}
	for _, d := range ds {
		count[d.Workflow]++
	}
	names := make([]string, 0, len(count))
	for n := range count {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if count[names[i]] != count[names[j]] {
			return count[names[i]] > count[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// SlackText is the one-message summary for a Slack channel.
func (r *Figures) SlackText(s Scope) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DORA metrics for %s (%s, last %s days)\n", s.Project, orAll(s.Branch), num(r.Days))
	for _, x := range r.rows() {
		fmt.Fprintf(&b, "• %s: %s — %s, %s\n", x.Metric, x.Value, x.Band, x.Trend)
	}
	if r.CIRecovery != nil {
		fmt.Fprintf(&b, "• CI recovery (Insights MTTR, not DORA's): %s\n", human.Duration(r.CIRecovery.MTTR))
	}
	return b.String()
}
