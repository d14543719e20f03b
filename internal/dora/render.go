package dora

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Scope says what the report covers.
type Scope struct {
	Project  string `json:"project"`
	Workflow string `json:"workflow"`
	Branch   string `json:"branch"`
}

type row struct{ metric, value, band, trend string }

func (r *Report) rows() []row {
	f, l, c, rc, rw := r.Frequency, r.LeadTime, r.ChangeFailRate, r.Recovery, r.Rework
	lead := "no commits measured"
	if l.Changes > 0 {
		lead = fmt.Sprintf("median %s, p90 %s (%d commits)", fmtDur(l.Median), fmtDur(l.P90), l.Changes)
	}
	rec := "no failed deployment"
	if rc.Recovered > 0 {
		rec = fmt.Sprintf("median %s (%d recovered", fmtDur(rc.Median), rc.Recovered)
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
		{"Change fail rate", fmt.Sprintf("%s (%d of %d)", pct(c.Rate), c.Count, c.Deploys), string(c.Band), string(r.Trend.ChangeFailRate)},
		{"Failed deployment recovery time", rec, string(rc.Band), string(r.Trend.Recovery)},
		{"Deployment rework rate", fmt.Sprintf("%s (%d of %d)", pct(rw.Rate), rw.Count, rw.Deploys), string(rw.Band) + " (no published levels)", string(r.Trend.Rework)},
	}
}

func (r *Report) ciRecoveryText() string {
	if r.CIRecovery == nil {
		return ""
	}
	s := fmt.Sprintf("CI recovery (CircleCI Insights MTTR of workflow %s: mean time from a failed run to the next successful run; it measures CI, not production, and is not DORA's failed deployment recovery time): %s",
		r.CIRecovery.Workflow, fmtDur(r.CIRecovery.MTTR))
	if !r.CIRecovery.WindowStart.IsZero() {
		s += fmt.Sprintf(" over %s to %s", r.CIRecovery.WindowStart.Format(time.DateOnly), r.CIRecovery.WindowEnd.Format(time.DateOnly))
	}
	return s
}

// Text writes the table people read in the job's output.
func (r *Report) Text(w io.Writer, s Scope) {
	fmt.Fprintf(w, "DORA metrics for %s, workflow %s on %s, %s to %s (%s days)\n\n", s.Project, s.Workflow, orAll(s.Branch),
		r.Start.Format(time.DateOnly), r.End.Format(time.DateOnly), num(r.Days))
	fmt.Fprintf(w, "%-32s %-58s %-28s %s\n", "METRIC", "VALUE", "DORA LEVEL", "TREND")
	for _, x := range r.rows() {
		fmt.Fprintf(w, "%-32s %-58s %-28s %s\n", x.metric, x.value, x.band, x.trend)
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
func (r *Report) Markdown(s Scope) string {
	var b strings.Builder
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w("# DORA metrics: %s\n\n", md(s.Project))
	w("Workflow `%s` on `%s`, %s to %s (%s days). Levels: %s.\n\n", code(s.Workflow), code(orAll(s.Branch)), r.Start.Format(time.DateOnly), r.End.Format(time.DateOnly), num(r.Days), md(r.BandSource))
	w("| Metric | Value | DORA level | Trend |\n|---|---|---|---|\n")
	for _, x := range r.rows() {
		w("| %s | %s | %s | %s |\n", x.metric, md(x.value), x.band, x.trend)
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
func (r *Report) mermaid() string {
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

// HTML renders one self-contained page with an inline SVG chart.
func (r *Report) HTML(s Scope) []byte {
	var b strings.Builder
	e := html.EscapeString
	w := func(f string, a ...any) { fmt.Fprintf(&b, f, a...) }
	w(`<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">`)
	w(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`)
	w(`<title>DORA metrics: %s</title><style>`, e(s.Project))
	w(`body{font:15px/1.5 -apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;max-width:1000px;margin:2em auto;padding:0 1.5em}`)
	w(`table{border-collapse:collapse;width:100%%;margin:1em 0}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left}th{background:#f6f8fa}`)
	w(`.elite{color:#1a7f37;font-weight:600}.high{color:#0969da;font-weight:600}.medium{color:#9a6700;font-weight:600}.low{color:#cf222e;font-weight:600}`)
	w(`svg text{font:12px sans-serif;fill:#1f2328}.bar{fill:#54aeff}.fail{fill:#cf222e}.rework{fill:#bf8700}.axis{stroke:#59636e}.note{color:#59636e}`)
	w(`</style></head><body>`)
	w(`<h1>DORA metrics: %s</h1>`, e(s.Project))
	w(`<p>Workflow <code>%s</code> on <code>%s</code>, %s to %s (%s days).</p>`, e(s.Workflow), e(orAll(s.Branch)), r.Start.Format(time.DateOnly), r.End.Format(time.DateOnly), num(r.Days))
	w(`<table id="metrics"><tr><th>Metric</th><th>Value</th><th>DORA level</th><th>Trend</th></tr>`)
	for _, x := range r.rows() {
		cls := strings.Fields(x.band)[0]
		w(`<tr><td>%s</td><td>%s</td><td class="%s">%s</td><td>%s</td></tr>`, e(x.metric), e(x.value), e(cls), e(x.band), e(x.trend))
	}
	w(`</table>`)
	if t := r.ciRecoveryText(); t != "" {
		w(`<p id="ci-recovery">%s</p>`, e(t))
	}
	w(`<h2>Weekly</h2>%s`, r.svg())
	w(`<table id="weeks"><tr><th>Week of</th><th>Deploys</th><th>Failed</th><th>Rework</th><th>Lead time (median)</th><th>Recovery (median)</th></tr>`)
	for _, wk := range r.Weeks {
		w(`<tr><td>%s</td><td>%d</td><td>%d</td><td>%d</td><td>%s</td><td>%s</td></tr>`, weekLabel(wk), wk.Deploys, wk.Failed, wk.Rework, optDur(wk.LeadMedian), optDur(wk.RecoveryMedian))
	}
	w(`</table><h2>How these are measured</h2><ul>`)
	for _, d := range definitions {
		d = e(d)
		for strings.Contains(d, "**") {
			d = strings.Replace(d, "**", "<strong>", 1)
			d = strings.Replace(d, "**", "</strong>", 1)
		}
		w(`<li>%s</li>`, d)
	}
	w(`</ul><p class="note">Levels: %s.</p>`, e(r.BandSource))
	for _, n := range r.Notes {
		w(`<p class="note">Note: %s</p>`, e(n))
	}
	w(`</body></html>`)
	return []byte(b.String())
}

// svg draws deploys per week as bars, the failed and rework ones stacked in
// their colours.
func (r *Report) svg() string {
	const width, height, left, bottom, top = 900.0, 260.0, 40.0, 40.0, 20.0
	n := len(r.Weeks)
	if n == 0 {
		return ""
	}
	maxD := 1
	for _, wk := range r.Weeks {
		maxD = max(maxD, wk.Deploys)
	}
	plotH := height - bottom - top
	slot := (width - left - 10) / float64(n)
	barW := math.Max(4, slot*0.6)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg id="weekly-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="100%%" role="img"><title>Deployments per week</title>`, width, height)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" class="axis"/>`, left, height-bottom, width-10, height-bottom)
	fmt.Fprintf(&b, `<text x="4" y="%.0f">%d</text><text x="4" y="%.0f">0</text>`, top+4, maxD, height-bottom)
	for i, wk := range r.Weeks {
		x := left + slot*float64(i) + (slot-barW)/2
		hAll := plotH * float64(wk.Deploys) / float64(maxD)
		hFail := plotH * float64(wk.Failed) / float64(maxD)
		hRework := plotH * float64(min(wk.Rework, wk.Deploys-wk.Failed)) / float64(maxD)
		y := height - bottom - hAll
		fmt.Fprintf(&b, `<g class="week"><rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%d deploys</title></rect>`, x, y, barW, hAll, wk.Deploys)
		fmt.Fprintf(&b, `<rect class="fail" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%d failed</title></rect>`, x, height-bottom-hFail, barW, hFail, wk.Failed)
		fmt.Fprintf(&b, `<rect class="rework" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%d rework</title></rect>`, x, height-bottom-hFail-hRework, barW, hRework, wk.Rework)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%d</text>`, x+barW/2, y-4, wk.Deploys)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%s</text></g>`, x+barW/2, height-bottom+16, html.EscapeString(wk.Start.Format("Jan 2")))
	}
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">bars: deployments; red: failed; amber: rework</text></svg>`, left, height-6)
	return b.String()
}

func orAll(branch string) string {
	if branch == "" {
		return "all branches"
	}
	return branch
}

func num(f float64) string { return strconv.FormatFloat(math.Round(f*100)/100, 'f', -1, 64) }

func pct(f float64) string { return strconv.FormatFloat(math.Round(f*1000)/10, 'f', -1, 64) + "%" }

func optDur(d time.Duration) string {
	if d <= 0 {
		return "—"
	}
	return fmtDur(d)
}

// fmtDur prints 45 min, 3 h 5 min, 2 d 4 h.
func fmtDur(d time.Duration) string {
	d = d.Round(time.Minute)
	switch {
	case d < time.Minute:
		return "under 1 min"
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
		if m == 0 {
			return fmt.Sprintf("%d h", h)
		}
		return fmt.Sprintf("%d h %d min", h, m)
	}
	days, h := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour)
	if h == 0 {
		return fmt.Sprintf("%d d", days)
	}
	return fmt.Sprintf("%d d %d h", days, h)
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
