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
	"os"
	"sort"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/report"
)

// Options are one run's inputs and dependencies.
type Options struct {
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
	Slack  func(ctx context.Context, text string) error
	Log    *events.Log
	Now    func() time.Time
	Stdout io.Writer
	Stderr io.Writer
}

// Run fetches the history, computes the metrics and writes the reports.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.Stderr == nil {
		o.Stderr = io.Discard
	}
	for _, p := range o.EventFile {
		if _, err := os.Stat(p); err != nil {
			return nil, config.Invalidf("pmguard dora: event log %s: %v", p, err)
		}
	}
	end := o.Now().UTC()
	start := end.Add(-o.Window)
	fmt.Fprintf(o.Stdout, "Reading %s pipelines%s since %s ...\n", o.Project, onBranch(o.Branch), start.Format(time.DateOnly))
	h, err := fetchHistory(ctx, o.CircleCI, fetchOptions{Slug: o.Project, Branch: o.Branch, Workflows: o.Workflows,
		Start: start, End: end, Concurrency: o.Concurrency})
	if err != nil {
		return nil, fmt.Errorf("pmguard dora: reading the CircleCI history: %w", err)
	}
	fmt.Fprintf(o.Stdout, "Read %d pipelines in %d pages (%d API calls): %d runs of the deploy workflow.\n", h.Pipelines, h.Pages, h.Calls, len(h.Deploys))

	in := Input{Start: start, End: end, Deploys: h.Deploys}
	if len(h.Deploys) == 0 {
		in.Notes = append(in.Notes, fmt.Sprintf("no run of a workflow matching %s was found%s; check deploy_workflow", strings.Join(o.Workflows, ", "), onBranch(o.Branch)))
	}

	evs, err := events.ReadFiles(o.EventFile...)
	if err != nil {
		return nil, fmt.Errorf("pmguard dora: reading event logs: %w", err)
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
		var ci *CIRecovery
		var serr error
		if o.Summary != nil {
			ci, serr = o.Summary(ctx, wf)
		} else {
			serr = errors.New("not requested")
		}
		if serr != nil || ci == nil {
			ci = ciRecoveryFromRuns(h.Deploys, wf)
			if ci != nil {
				in.Notes = append(in.Notes, fmt.Sprintf("CI recovery computed from the fetched runs with Insights' definition (Insights summary unavailable: %v)", serr))
			}
		}
		in.CIRecovery = ci
	}

	r := Compute(in)
	scope := Scope{Project: o.Project, Workflow: strings.Join(o.Workflows, ", "), Branch: o.Branch}
	fmt.Fprintln(o.Stdout)
	r.Text(o.Stdout, scope)
	if err := report.WriteJSON(o.JSON, struct {
		Scope
		*Report
	}{scope, r}); err != nil {
		return r, fmt.Errorf("pmguard dora: %w", err)
	}
	if o.Markdown != "" {
		if err := report.WriteFile(o.Markdown, []byte(r.Markdown(scope))); err != nil {
			return r, fmt.Errorf("pmguard dora: %w", err)
		}
	}
	if o.HTML != "" {
		if err := report.WriteFile(o.HTML, r.HTML(scope)); err != nil {
			return r, fmt.Errorf("pmguard dora: %w", err)
		}
	}
	o.Log.Append(events.Event{Verb: "dora", Event: "dora_computed", Target: o.Project, Figures: map[string]any{ //nolint:errcheck // the reports are written
		"deploys": r.Frequency.Deploys, "per_week": r.Frequency.PerWeek, "change_fail_rate": r.ChangeFailRate.Rate,
		"rework_rate": r.Rework.Rate, "lead_time_median_s": r.LeadTime.Median.Seconds(), "recovery_median_s": r.Recovery.Median.Seconds(),
	}})
	if o.Slack != nil {
		if err := o.Slack(ctx, r.SlackText(scope)); err != nil {
			fmt.Fprintf(o.Stderr, "pmguard dora: warning: posting the summary to Slack failed: %v\n", err)
		}
	}
	return r, nil
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
		case "rollback_initiated", "rollback_completed":
			id := firstFigure(e.Figures, "failed_pipeline_id")
			if id == "" {
				id = e.PipelineID
			}
			out = append(out, Signal{Time: e.Time, Kind: e.Event, PipelineID: id})
		case "canary_failed", "health_failed":
			out = append(out, Signal{Time: e.Time, Kind: e.Event, PipelineID: e.PipelineID})
		}
	}
	return out
}

func firstFigure(f map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := f[k].(string); ok && strings.TrimSpace(s) != "" {
			return strings.TrimSpace(s)
		}
	}
	return ""
}

// SlackText is the one-message summary for a Slack channel.
func (r *Report) SlackText(s Scope) string {
	var b strings.Builder
	fmt.Fprintf(&b, "DORA metrics for %s (%s, last %s days)\n", s.Project, orAll(s.Branch), num(r.Days))
	for _, x := range r.rows() {
		fmt.Fprintf(&b, "• %s: %s — %s, %s\n", x.metric, x.value, x.band, x.trend)
	}
	if r.CIRecovery != nil {
		fmt.Fprintf(&b, "• CI recovery (Insights MTTR, not DORA's): %s\n", fmtDur(r.CIRecovery.MTTR))
	}
	return b.String()
}
