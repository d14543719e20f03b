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
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
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

// Run fetches the history, computes the metrics and writes the reports.
func Run(ctx context.Context, o *Options) error {
	_, err := o.measure(ctx)
	return o.Redactor.Error(err)
}

// measure is Run, returning the figures.
func (o *Options) measure(ctx context.Context) (*Figures, error) {
	o.defaults()
	end := o.Now().UTC()
	start := end.Add(-o.Window)
	fmt.Fprintf(o.Stdout, "Reading %s pipelines%s since %s ...\n", o.Project, onBranch(o.Branch), start.Format(time.DateOnly))
	h, err := fetchHistory(ctx, o.CircleCI, fetchOptions{Slug: o.Project, Branch: o.Branch, Workflows: o.Workflows,
		Start: start, End: end, Concurrency: o.Concurrency})
	if circleci.StatusOf(err) == http.StatusTooManyRequests {
		return nil, fmt.Errorf("pmguard dora: reading the CircleCI history: %w; CircleCI's rate limit outlasted pmguard's waits (each at most %s, none past the run's deadline): run again later, or lower concurrency or set max_rps", err, httpx.MaxRetryAfter)
	}
	if err != nil {
		return nil, fmt.Errorf("pmguard dora: reading the CircleCI history: %w", err)
	}
	fmt.Fprintf(o.Stdout, "Read %d pipelines in %d pages (%d API requests): %d runs of the deploy workflow.\n", h.Pipelines, h.Pages, h.Calls, len(h.Deploys))
	in, err := o.input(ctx, h, start, end)
	if err != nil {
		return nil, err
	}
	r := Compute(in)
	scope := Scope{Project: o.Project, Workflow: strings.Join(o.Workflows, ", "), Branch: o.Branch}
	fmt.Fprintln(o.Stdout)
	r.Text(o.Stdout, scope)
	if err := o.write(r, scope); err != nil {
		return r, fmt.Errorf("pmguard dora: %w", err)
	}
	e := events.Event{Verb: "dora", Event: events.DoraComputed, Target: o.Project}
	e.SetFigures(events.Dora{Deploys: r.Frequency.Deploys, PerWeek: r.Frequency.PerWeek, ChangeFailRate: r.ChangeFailRate.Rate,
		ReworkRate: r.Rework.Rate, LeadTimeMedianS: r.LeadTime.Median.Seconds(), RecoveryMedianS: r.Recovery.Median.Seconds(),
		WindowDays: r.Days, FailedDeploys: r.ChangeFailRate.Count, RecoveredDeploys: r.Recovery.Recovered})
	if err := o.Log.Append(e); err != nil {
		fmt.Fprintf(o.Stderr, "pmguard dora: warning: %v\n", err)
	}
	if o.Slack != nil {
		if err := o.Slack(ctx, r.SlackText(scope)); err != nil {
			fmt.Fprintf(o.Stderr, "pmguard dora: warning: posting the summary to Slack failed: %v\n", err)
		}
	}
	return r, nil
}

func (o *Options) defaults() {
	verb.FillClockAndStreams(&o.Now, &o.Stdout, &o.Stderr)
}

// input gathers what the metrics are computed over: the fetched runs, the
// event log's signals, commit times and CI recovery.
func (o *Options) input(ctx context.Context, h *History, start, end time.Time) (Input, error) {
	in := Input{Start: start, End: end, Deploys: h.Deploys}
	if len(h.Deploys) == 0 {
		in.Notes = append(in.Notes, fmt.Sprintf("no run of a workflow matching %s was found%s; check deploy_workflow", strings.Join(o.Workflows, ", "), onBranch(o.Branch)))
	}
	evs, err := events.ReadFiles(o.EventFile...)
	if err != nil {
		return in, fmt.Errorf("pmguard dora: reading event logs: %w", err)
	}
	in.Signals = signals(evs)
	if o.GitDir != "" {
		changes, notes, err := Attribute(ctx, o.GitDir, h.Deploys)
		if err != nil {
			in.Notes = append(in.Notes, "lead time not measured: "+err.Error())
		}
		in.Changes = changes
		in.Notes = append(in.Notes, notes...)
	} else {
		in.Notes = append(in.Notes, "lead time not measured: no git repository given (git_dir)")
	}
	if wf := mainWorkflow(h.Deploys); wf != "" {
		in.CIRecovery = o.ciRecovery(ctx, h.Deploys, wf, &in.Notes)
	}
	return in, nil
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
	}{scope, r}); err != nil {
		return err
	}
	if o.Markdown != "" {
		if err := report.WriteFile(o.Markdown, []byte(r.Markdown(scope))); err != nil {
			return err
		}
	}
	if o.HTML == "" {
		return nil
	}
	page, err := r.HTML(scope)
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

// signals turns pmguard's events into facts about deploys.
func signals(evs []events.Event) []Signal {
	var out []Signal
	for _, e := range evs {
		switch e.Event {
		case events.RollbackInitiated, events.RollbackCompleted:
			var f events.Rollback
			e.Decode(&f)
			id := strings.TrimSpace(f.FailedPipelineID)
			if id == "" {
				id = e.PipelineID
			}
			out = append(out, Signal{Time: e.Time, Kind: e.Event, PipelineID: id})
		case events.CanaryFailed, events.HealthFailed:
			out = append(out, Signal{Time: e.Time, Kind: e.Event, PipelineID: e.PipelineID})
		}
	}
	return out
}

// SlackText is the one-message summary for a Slack channel.
func (r *Figures) SlackText(s Scope) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DORA metrics for %s (%s, last %s days)\n", s.Project, orAll(s.Branch), num(r.Days))
	for _, x := range r.rows() {
		fmt.Fprintf(&b, "• %s: %s — %s, %s\n", x.Metric, x.Value, x.Band, x.Trend)
	}
	if r.CIRecovery != nil {
		fmt.Fprintf(&b, "• CI recovery (Insights MTTR, not DORA's): %s\n", fmtDur(r.CIRecovery.MTTR))
	}
	return b.String()
}
