package dora

import (
	_ "embed"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pmguard/pmguard/internal/htmlpage"
	"github.com/pmguard/pmguard/internal/human"
)

// Scope says what the report covers.
type Scope struct {
	Project  string `json:"project"`
	Workflow string `json:"workflow"`
	Branch   string `json:"branch"`
}

// row is one metric's line in every rendering.
type row struct{ Metric, Value, Band, Trend string }

// Class is the row's CSS class, its level's first word.
func (x row) Class() string { return strings.Fields(x.Band)[0] }

func (r *Figures) rows() []row {
	f, l, c, rc, rw := r.Frequency, r.LeadTime, r.ChangeFailRate, r.Recovery, r.Rework
	lead := "no commits measured"
	if l.Changes > 0 {
		lead = fmt.Sprintf("median %s, p90 %s (%d commits)", human.Duration(l.Median), human.Duration(l.P90), l.Changes)
	}
	rec := "no failed deployment"
	if rc.Recovered > 0 {
		rec = fmt.Sprintf("median %s (%d recovered", human.Duration(rc.Median), rc.Recovered)
		if rc.Unrecovered > 0 {
			rec += fmt.Sprintf(", %d not yet", rc.Unrecovered)
		}
		rec += ")"
	} else if rc.Unrecovered > 0 {
		rec = fmt.Sprintf("%d failed deployment(s), none recovered yet", rc.Unrecovered)
	}
	return []row{
		{"Deployment frequency", fmt.Sprintf("%s/day, %s/week; %d deploys on %d of %s days", num(f.PerDay), num(f.PerWeek), f.Deploys, f.DeploymentDays, num(r.Days)), string(f.Band), string(r.Trend.Frequency)},
		{"Change lead time", lead, string(l.Band), string(r.Trend.LeadTime)},
		{"Change fail rate", fmt.Sprintf("%s (%d of %d)", human.Percent(c.Rate), c.Count, c.Deploys), string(c.Band), string(r.Trend.ChangeFailRate)},
		{"Failed deployment recovery time", rec, string(rc.Band), string(r.Trend.Recovery)},
		{"Deployment rework rate", fmt.Sprintf("%s (%d of %d)", human.Percent(rw.Rate), rw.Count, rw.Deploys), string(rw.Band) + " (no published levels)", string(r.Trend.Rework)},
	}
}

func (r *Figures) ciRecoveryText() string {
	if r.CIRecovery == nil {
		return ""
	}
	s := fmt.Sprintf("CI recovery (CircleCI Insights MTTR of workflow %s: mean time from a failed run to the next successful run; it measures CI, not production, and is not DORA's failed deployment recovery time): %s",
		r.CIRecovery.Workflow, human.Duration(r.CIRecovery.MTTR))
	if !r.CIRecovery.WindowStart.IsZero() {
		s += fmt.Sprintf(" over %s to %s", r.CIRecovery.WindowStart.Format(time.DateOnly), r.CIRecovery.WindowEnd.Format(time.DateOnly))
	}
	return s
}

// Text writes the table people read in the job's output.
func (r *Figures) Text(w io.Writer, s Scope) {
	fmt.Fprintf(w, "DORA metrics for %s, workflow %s on %s, %s to %s (%s days)\n\n", s.Project, s.Workflow, orAll(s.Branch),
		r.Start.Format(time.DateOnly), r.End.Format(time.DateOnly), num(r.Days))
	fmt.Fprintf(w, "%-32s %-58s %-28s %s\n", "METRIC", "VALUE", "DORA LEVEL", "TREND")
	for _, x := range r.rows() {
		fmt.Fprintf(w, "%-32s %-58s %-28s %s\n", x.Metric, x.Value, x.Band, x.Trend)
	}
	if t := r.ciRecoveryText(); t != "" {
		fmt.Fprintf(w, "\n%s\n", t)
	}
	fmt.Fprintf(w, "\nLevels: %s\n", r.BandSource)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
}

// Markdown renders the report with a weekly table and a Mermaid chart.
func (r *Figures) Markdown(s Scope) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("# DORA metrics: %s\n\n", md(s.Project))
	w("Workflow `%s` on `%s`, %s to %s (%s days). Levels: %s.\n\n", code(s.Workflow), code(orAll(s.Branch)), r.Start.Format(time.DateOnly), r.End.Format(time.DateOnly), num(r.Days), md(r.BandSource))
	w("| Metric | Value | DORA level | Trend |\n|---|---|---|---|\n")
	for _, x := range r.rows() {
		w("| %s | %s | %s | %s |\n", x.Metric, md(x.Value), x.Band, x.Trend)
	}
	if t := r.ciRecoveryText(); t != "" {
		w("\n%s\n", md(t))
	}
	w("\n## Weekly\n\n| Week of | Deploys | Failed | Rework | Lead time (median) | Recovery (median) |\n|---|---|---|---|---|---|\n")
	for _, wk := range r.Weeks {
		w("| %s | %d | %d | %d | %s | %s |\n", weekLabel(wk), wk.Deploys, wk.Failed, wk.Rework, optDur(wk.LeadMedian), optDur(wk.RecoveryMedian))
	}
	w("\n```mermaid\n%s```\n", r.mermaid())
	if len(r.Failures) > 0 {
		w("\n## Failed deployments\n\n| Pipeline | Finished | Why | Recovered by | Recovery |\n|---|---|---|---|---|\n")
		for _, f := range r.Failures {
			by := md(f.RecoveredBy)
			if f.FixPipeline > 0 {
				by += fmt.Sprintf(" (\\#%d)", f.FixPipeline)
			}
			if f.RecoveredAt.IsZero() {
				by = "not recovered in the window"
			}
			w("| \\#%d | %s | %s | %s | %s |\n", f.Deploy.Number, f.Deploy.Finished.In(r.Location).Format("2006-01-02 15:04"), md(f.Reason), by, optDur(f.Recovery))
		}
	}
	w("\n## How these are measured\n\n")
	for _, l := range definitions {
		w("- %s\n", l)
	}
	for _, n := range r.Notes {
		w("- Note: %s\n", md(n))
	}
	return b.String()
}

var definitions = []string{
	"**Deployment**: a run of the deploy workflow that finished (success, failed or error) in the window; rollbacks count. Canceled, on-hold and running workflows do not.",
	"**Deployment frequency**: deployments per day and per week over the window; deployment days are the calendar days with at least one.",
	"**Change lead time**: per commit, from its author time to the end of the first successful deployment that shipped it (from local git). Median and p90 (nearest rank).",
	"**Change fail rate**: deployments whose workflow failed, that a rollback rolled back, or on which a pmguard guard failed (canary_failed, health_failed), over all deployments.",
	"**Failed deployment recovery time**: from a failed deployment to the end of the rollback that names it, or else to the next successful deployment that did not fail (a forward fix). Median.",
	"**Deployment rework rate**: rollbacks and forward fixes (the deployments that restored a failed one) over all deployments: unplanned deployments caused by an incident.",
	"**Trend**: the window's first half of weeks against its second half; changes under 10% are steady.",
}

// mermaid is a bar chart of deploys per week with the failed ones as a line.
func (r *Figures) mermaid() string {
	var labels, deploys, failed []string
	top := 1
	for _, wk := range r.Weeks {
		labels = append(labels, `"`+wk.Start.Format("Jan 2")+`"`)
		deploys = append(deploys, strconv.Itoa(wk.Deploys))
		failed = append(failed, strconv.Itoa(wk.Failed))
		if wk.Deploys > top {
			top = wk.Deploys
		}
	}
	return fmt.Sprintf("xychart-beta\n    title \"Deployments per week (bars) and failed deployments (line)\"\n    x-axis [%s]\n    y-axis \"deployments\" 0 --> %d\n    bar [%s]\n    line [%s]\n",
		strings.Join(labels, ", "), top, strings.Join(deploys, ", "), strings.Join(failed, ", "))
}

//go:embed dora.html.tmpl
var pageText string

var page = sync.OnceValues(func() (*htmlpage.Page, error) {
	return htmlpage.Parse("dora", pageText+historyText, pageFuncs())
})

// HTML renders one self-contained page with an inline SVG chart, and the
// history's months when h is not nil.
func (r *Figures) HTML(s Scope, h *Report) ([]byte, error) {
	p, err := page()
	if err != nil {
		return nil, err
	}
	var defs []definition
	for _, d := range definitions {
		term, text, _ := strings.Cut(strings.TrimPrefix(d, "**"), "**")
		defs = append(defs, definition{term, text})
	}
	return p.Render("DORA metrics: "+s.Project, struct {
		*Figures
		Scope       Scope
		Rows        []row
		CIText      string
		Chart       *chart
		Definitions []definition
		History     *Report
	}{r, s, r.rows(), r.ciRecoveryText(), r.chart(), defs, h})
}

// definition is one "**Term**: text" line of definitions.
type definition struct{ Term, Text string }

// chart is the geometry of the weekly SVG chart: deploys per week as bars,
// the failed and rework ones stacked in their colours.
type chart struct {
	Width, Height, Left, Right, Base, TopLabel, Legend float64
	Max                                                int
	Bars                                               []bar
}

type bar struct {
	X, Y, W, H, FailY, FailH, ReworkY, ReworkH, Mid, CountY, LabelY float64
	Deploys, Failed, Rework                                         int
	Label                                                           string
}

func (r *Figures) chart() *chart {
	var cs []column
	for _, wk := range r.Weeks {
		cs = append(cs, column{wk.Start.Format("Jan 2"), wk.Deploys, wk.Failed, wk.Rework})
	}
	return chartOf(cs)
}

// column is one bar of a chart: a week's or a month's deploys.
type column struct {
	Label                   string
	Deploys, Failed, Rework int
}

// chartOf lays out the bars, the failed and rework deploys stacked in
// their colours.
func chartOf(cs []column) *chart {
	const width, height, left, bottom, top = 900.0, 260.0, 40.0, 40.0, 20.0
	n := len(cs)
	if n == 0 {
		return nil
	}
	c := &chart{Width: width, Height: height, Left: left, Right: width - 10, Base: height - bottom, TopLabel: top + 4, Legend: height - 6, Max: 1}
	for _, x := range cs {
		c.Max = max(c.Max, x.Deploys)
	}
	plotH := height - bottom - top
	slot := (width - left - 10) / float64(n)
	barW := math.Max(4, slot*0.6)
	h := func(n int) float64 { return plotH * float64(n) / float64(c.Max) }
	for i, wk := range cs {
		x := left + slot*float64(i) + (slot-barW)/2
		hAll, hFail, hRework := h(wk.Deploys), h(wk.Failed), h(min(wk.Rework, wk.Deploys-wk.Failed))
		c.Bars = append(c.Bars, bar{X: x, Y: c.Base - hAll, W: barW, H: hAll,
			FailY: c.Base - hFail, FailH: hFail, ReworkY: c.Base - hFail - hRework, ReworkH: hRework,
			Mid: x + barW/2, CountY: c.Base - hAll - 4, LabelY: c.Base + 16,
			Deploys: wk.Deploys, Failed: wk.Failed, Rework: wk.Rework, Label: wk.Label})
	}
	return c
}

func orAll(branch string) string {
	if branch == "" {
		return "all branches"
	}
	return branch
}

func num(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }

func optDur(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return human.Duration(d)
}

func md(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`, "`", "\\`", "[", `\[`, "]", `\]`).Replace(s)
}

func code(s string) string { return strings.ReplaceAll(s, "`", "'") }

// weekLabel names a week by its first day, with its length when it is not 7.
func weekLabel(w Week) string {
	if w.Days == 7 || w.Days == 0 {
		return w.Start.Format(time.DateOnly)
	}
	return fmt.Sprintf("%s (%s days)", w.Start.Format(time.DateOnly), num(w.Days))
}
