package dora

import (
	"context"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pmguard/pmguard/internal/dorastore"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/htmlpage"
	"github.com/pmguard/pmguard/internal/human"
	"github.com/pmguard/pmguard/internal/report"
)

// Report is what the store says over time: a unit per project, per team
// and for the organisation (a single project's run has one unit).
type Report struct {
	Generated time.Time  `json:"generated"`
	Start     time.Time  `json:"window_start"`
	End       time.Time  `json:"window_end"`
	Store     string     `json:"store"`
	Sync      *SyncStats `json:"sync"`
	Units     []*Unit    `json:"units"`
	Title     string     `json:"title,omitempty"`
}

// openStore opens the configured store, or an in-memory one.
func (o *Options) openStore(ctx context.Context) (*dorastore.Store, func(), error) {
	if o.Store != nil {
		return o.Store, func() {}, nil
	}
	var st *dorastore.Store
	var err error
	switch {
	case o.DatabaseURL != "":
		st, err = dorastore.OpenPostgres(ctx, o.DatabaseURL)
	case o.StorePath != "":
		st, err = dorastore.OpenSQLite(ctx, o.StorePath)
	default:
		st, err = dorastore.OpenSQLite(ctx, ":memory:")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("pmguard dora: %w", err)
	}
	return st, func() { st.Close() }, nil
}

// saveEvents stores the signals and guard events of the event logs: the
// store keeps them, so a later run needs only the new logs.
func (o *Options) saveEvents(ctx context.Context, st *dorastore.Store) error {
	evs, skipped, err := events.ReadFiles(o.EventFile...)
	if err != nil {
		return fmt.Errorf("pmguard dora: reading event logs: %w", err)
	}
	if skipped != nil {
		fmt.Fprintf(o.Stderr, "pmguard dora: warning: %v\n", skipped)
	}
	keep := map[string]bool{events.RollbackInitiated: true, events.RollbackCompleted: true, events.CanaryFailed: true, events.HealthFailed: true}
	for _, g := range guards {
		for _, k := range g.Events {
			keep[k] = true
		}
	}
	var out []dorastore.Event
	for _, e := range evs {
		if !keep[e.Event] {
			continue
		}
		id := e.PipelineID
		if e.Event == events.RollbackInitiated || e.Event == events.RollbackCompleted {
			var f events.Rollback
			e.Decode(&f)
			if x := strings.TrimSpace(f.FailedPipelineID); x != "" {
				id = x
			}
		}
		project := e.Project
		if project == "" {
			project = o.Project // a log without job context: this run's project
		}
		if project == "" {
			continue
		}
		out = append(out, dorastore.Event{Project: project, Event: e.Event, PipelineID: id, Time: e.Time})
	}
	if err := st.SaveEvents(ctx, out); err != nil {
		return fmt.Errorf("pmguard dora: storing events: %w", err)
	}
	return nil
}

// base is the rule from the settings, under every project's own.
func (o *Options) base() Rule {
	r := Rule{DeployWorkflow: strings.Join(o.Workflows, ","), Branch: o.Branch, GitDir: o.GitDir}
	if o.multi() {
		r.GitDir = "" // this job's clone is one project's at most: git_dir per project in the projects file
	}
	return r
}

func (o *Options) targetOf(slug string, start time.Time) (target, Rule) {
	r := o.Rules.For(slug, o.base())
	return target{Project: slug, Branch: r.Branch, Workflows: workflows(r.DeployWorkflow), Start: start}, r
}

// targets are the projects to sync: this project, or the projects file's
// and the explicit list's, plus (in organisation scope) those the store
// already follows.
func (o *Options) targets(ctx context.Context, st *dorastore.Store, start time.Time) ([]target, error) {
	if !o.multi() {
		return []target{{Project: o.Project, Branch: o.Branch, Workflows: o.Workflows, Start: start}}, nil
	}
	names := append(append([]string(nil), o.ProjectList...), o.Rules.Named()...)
	if o.Org != "" {
		stored, err := st.Projects(ctx)
		if err != nil {
			return nil, fmt.Errorf("pmguard dora: reading the store: %w", err)
		}
		for _, p := range stored {
			if strings.HasPrefix(p, o.Org+"/") {
				names = append(names, p)
			}
		}
	}
	if len(names) == 0 && o.Org == "" && o.Project != "" {
		names = append(names, o.Project)
	}
	seen := map[string]bool{}
	var out []target
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			t, _ := o.targetOf(n, start)
			out = append(out, t)
		}
	}
	return out, nil
}

// discovered gives the rules of a project the organisation's list shows.
func (o *Options) discovered(start time.Time) func(string) (target, bool) {
	if o.Org == "" {
		return nil
	}
	return func(slug string) (target, bool) {
		if !strings.HasPrefix(slug, o.Org+"/") {
			return target{}, false
		}
		t, _ := o.targetOf(slug, start)
		return t, true
	}
}

// orgReport computes every project from the store, then its teams and the
// organisation, and writes the reports.
func (o *Options) orgReport(ctx context.Context, st *dorastore.Store, end, start time.Time, ms []period) error {
	names, err := st.Projects(ctx)
	if err != nil {
		return fmt.Errorf("pmguard dora: reading the store: %w", err)
	}
	want := map[string]bool{}
	for _, n := range append(append([]string(nil), o.ProjectList...), o.Rules.Named()...) {
		want[n] = true
	}
	ws := weeks(ms[0].Start, end)
	var projects []*Unit
	teams := map[string][]*Unit{}
	for _, n := range names {
		if !want[n] && (o.Org == "" || !strings.HasPrefix(n, o.Org+"/")) {
			continue
		}
		t, rule := o.targetOf(n, start)
		in, sig, err := o.projectInput(ctx, st, t, rule.GitDir, start, end, false)
		if err != nil {
			return err
		}
		u := projectUnit(n, rule.Team, in, sig, ms, ws, end)
		projects = append(projects, u)
		if rule.Team != "" {
			teams[rule.Team] = append(teams[rule.Team], u)
		}
	}
	title := o.Org
	if title == "" {
		title = fmt.Sprintf("%d projects", len(projects))
	}
	rep := &Report{Generated: end, Start: start, End: end, Store: st.Dialect(), Sync: o.Synced, Title: title}
	if len(projects) > 0 {
		org := combine("organisation", title, projects)
		org.finish(o.Targets)
		rep.Units = append(rep.Units, org)
	}
	for _, n := range slices.Sorted(maps.Keys(teams)) {
		u := combine("team", n, teams[n])
		u.finish(o.Targets)
		rep.Units = append(rep.Units, u)
	}
	for _, u := range projects {
		u.finish(o.Targets)
		rep.Units = append(rep.Units, u)
	}
	o.Report = rep
	fmt.Fprintln(o.Stdout)
	rep.Text(o.Stdout)
	if err := report.WriteJSON(o.JSON, rep); err != nil {
		return fmt.Errorf("pmguard dora: %w", err)
	}
	if o.Markdown != "" {
		if err := report.WriteFile(o.Markdown, []byte("# DORA metrics: "+md(title)+"\n\n"+rep.Markdown())); err != nil {
			return fmt.Errorf("pmguard dora: %w", err)
		}
	}
	if o.HTML != "" {
		page, err := rep.HTML()
		if err != nil {
			return fmt.Errorf("pmguard dora: %w", err)
		}
		if err := report.WriteFile(o.HTML, page); err != nil {
			return fmt.Errorf("pmguard dora: %w", err)
		}
	}
	e := events.Event{Verb: "dora", Event: events.DoraComputed, Target: title}
	if len(rep.Units) > 0 {
		w := rep.Units[0].Window
		e.SetFigures(events.Dora{Deploys: w.Deploys, PerWeek: w.PerDay * 7, ChangeFailRate: w.ChangeFailRate, ReworkRate: w.ReworkRate,
			LeadTimeMedianS: w.LeadMedian.Seconds(), RecoveryMedianS: w.RecoveryMedian.Seconds(), WindowDays: end.Sub(start).Hours() / 24,
			FailedDeploys: w.Failed, RecoveredDeploys: w.Recovered})
	}
	if err := o.Log.Append(ctx, e); err != nil {
		fmt.Fprintf(o.Stderr, "pmguard dora: warning: %v\n", err)
	}
	if o.Slack != nil {
		if err := o.Slack(ctx, rep.SlackText()); err != nil {
			fmt.Fprintf(o.Stderr, "pmguard dora: warning: posting the summary to Slack failed: %v\n", err)
		}
	}
	return nil
}

func (s Summary) line() string {
	return fmt.Sprintf("%d deploys (%s/day), lead time %s, change fail rate %s, recovery %s, rework %s",
		s.Deploys, num(s.PerDay), optDur(s.LeadMedian), human.Percent(s.ChangeFailRate), optDur(s.RecoveryMedian), human.Percent(s.ReworkRate))
}

func unitTitle(u *Unit) string {
	switch u.Kind {
	case "organisation":
		return "Organisation " + u.Name
	case "team":
		return "Team " + u.Name
	}
	if u.Team != "" {
		return u.Name + " (team " + u.Team + ")"
	}
	return u.Name
}

// Text writes the over-time part of the job's output.
func (r *Report) Text(w io.Writer) {
	for _, u := range r.Units {
		fmt.Fprintf(w, "\n%s: %s\n", unitTitle(u), u.Window.line())
		for _, t := range u.Targets {
			fmt.Fprintf(w, "  %s\n", t.Line())
		}
		fmt.Fprintf(w, "  %-8s %8s %8s %12s %8s %12s %8s\n", "MONTH", "DEPLOYS", "PER DAY", "LEAD TIME", "CFR", "RECOVERY", "REWORK")
		for _, m := range u.Months {
			fmt.Fprintf(w, "  %-8s %8d %8s %12s %8s %12s %8s\n", m.Start.Format("2006-01"), m.Deploys, num(m.PerDay), optDur(m.LeadMedian), human.Percent(m.ChangeFailRate), optDur(m.RecoveryMedian), human.Percent(m.ReworkRate))
		}
		fmt.Fprintf(w, "  Trend: %s\n", u.Trend)
		for _, g := range u.Guards {
			fmt.Fprintf(w, "  Since %s was first used (%s), %s: %s before, %s after. %s\n", g.Guard, g.Since.Format(time.DateOnly), g.Metric, g.Value[0], g.Value[1], g.Reading)
		}
	}
}

// Markdown renders the units with monthly tables and charts.
func (r *Report) Markdown() string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	for _, u := range r.Units {
		w("## %s\n\n%s.\n\n", md(unitTitle(u)), md(u.Window.line()))
		if len(u.Targets) > 0 {
			w("| Metric | Current → target | Gap |\n|---|---|---|\n")
			for _, t := range u.Targets {
				w("| %s | %s → %s | %s |\n", t.Metric, md(t.Current), md(t.Target), md(t.Gap))
			}
			w("\n")
		}
		w("| Month | Deploys | Per day | Lead time (median) | Change fail rate | Recovery (median) | Rework rate |\n|---|---|---|---|---|---|---|\n")
		var labels, deploys, failed []string
		top := 1
		for _, m := range u.Months {
			w("| %s | %d | %s | %s | %s | %s | %s |\n", m.Start.Format("2006-01"), m.Deploys, num(m.PerDay), optDur(m.LeadMedian), human.Percent(m.ChangeFailRate), optDur(m.RecoveryMedian), human.Percent(m.ReworkRate))
			labels = append(labels, `"`+m.Start.Format("Jan 06")+`"`)
			deploys = append(deploys, fmt.Sprint(m.Deploys))
			failed = append(failed, fmt.Sprint(m.Failed))
			top = max(top, m.Deploys)
		}
		w("\n```mermaid\nxychart-beta\n    title \"Deployments per month (bars) and failed deployments (line)\"\n    x-axis [%s]\n    y-axis \"deployments\" 0 --> %d\n    bar [%s]\n    line [%s]\n```\n\n",
			strings.Join(labels, ", "), top, strings.Join(deploys, ", "), strings.Join(failed, ", "))
		w("Trend: %s.\n\n", md(u.Trend))
		if len(u.Guards) > 0 {
			w("| Guard | First used | Metric | Before | After |\n|---|---|---|---|---|\n")
			for _, g := range u.Guards {
				w("| %s | %s | %s | %s | %s |\n", g.Guard, g.Since.Format(time.DateOnly), md(g.Metric), md(g.Value[0]), md(g.Value[1]))
			}
			w("\n")
			for _, g := range u.Guards {
				w("- %s: %s\n", g.Guard, md(g.Reading))
			}
			w("\n")
		}
	}
	return b.String()
}

// SlackText is the summary of the first unit (the organisation, or the
// project) with its targets.
func (r *Report) SlackText() string {
	if len(r.Units) == 0 {
		return ""
	}
	u := r.Units[0]
	var b strings.Builder
	if u.Kind != "project" {
		fmt.Fprintf(&b, "DORA metrics for %s: %s\n", unitTitle(u), u.Window.line())
	}
	for _, t := range u.Targets {
		fmt.Fprintf(&b, "• %s\n", t.Line())
	}
	fmt.Fprintf(&b, "• Trend over months: %s\n", u.Trend)
	for _, x := range r.Units[1:] {
		if x.Kind == "team" {
			fmt.Fprintf(&b, "• %s: %s\n", unitTitle(x), x.Window.line())
		}
	}
	return b.String()
}

//go:embed dora_history.html.tmpl
var historyText string

//go:embed dora_org.html.tmpl
var orgText string

func pageFuncs() template.FuncMap {
	return template.FuncMap{
		"orAll": orAll, "num": num, "optDur": optDur, "week": weekLabel, "pct": human.Percent,
		"join":  func(s []string) string { return strings.Join(s, ", ") },
		"date":  func(t time.Time) string { return t.Format(time.DateOnly) },
		"month": func(t time.Time) string { return t.Format("2006-01") },
		"f1":    func(f float64) string { return fmt.Sprintf("%.1f", f) },
		"monthChart": func(ms []Summary) *chart {
			var cs []column
			for _, m := range ms {
				cs = append(cs, column{m.Start.Format("Jan 06"), m.Deploys, m.Failed, m.Rework})
			}
			return chartOf(cs)
		},
	}
}

var orgPage = sync.OnceValues(func() (*htmlpage.Page, error) {
	chartDef := pageText[strings.Index(pageText, `{{define "chart"}}`):]
	return htmlpage.Parse("dora-org", orgText+historyText+chartDef, pageFuncs())
})

// HTML renders the organisation's page.
func (r *Report) HTML() ([]byte, error) {
	p, err := orgPage()
	if err != nil {
		return nil, err
	}
	return p.Render("DORA metrics: "+r.Title, r)
}

// reportPaths are the report files in an output directory.
func reportPaths(dir string) (md, html string) {
	return filepath.Join(dir, "dora.md"), filepath.Join(dir, "dora.html")
}
