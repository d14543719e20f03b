package dora

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/human"
)

// tally is what a period's figures add up from, so that projects combine
// exactly into a team or the organisation: counts add, medians are taken
// over the union of the durations.
type tally struct {
	Start, End  time.Time
	Days        float64
	Deploys     int
	Failed      int
	Rework      int
	Unrecovered int
	Leads       []time.Duration
	Recoveries  []time.Duration
}

func tallyOf(r *Figures) tally {
	t := tally{Start: r.Start, End: r.End, Days: r.Days, Deploys: r.Frequency.Deploys, Failed: r.ChangeFailRate.Count,
		Rework: r.Rework.Count, Unrecovered: r.Recovery.Unrecovered}
	for _, c := range r.Changes {
		t.Leads = append(t.Leads, c.LeadTime())
	}
	for _, f := range r.Failures {
		if !f.RecoveredAt.IsZero() {
			t.Recoveries = append(t.Recoveries, f.Recovery)
		}
	}
	return t
}

func (t *tally) add(o tally) {
	t.Deploys += o.Deploys
	t.Failed += o.Failed
	t.Rework += o.Rework
	t.Unrecovered += o.Unrecovered
	t.Leads = append(t.Leads, o.Leads...)
	t.Recoveries = append(t.Recoveries, o.Recoveries...)
}

// Summary is the five metrics over one period, for a project, a team or the
// organisation.
type Summary struct {
	Start          time.Time     `json:"start"`
	End            time.Time     `json:"end"`
	Deploys        int           `json:"deploys"`
	PerDay         float64       `json:"per_day"`
	LeadChanges    int           `json:"lead_time_changes"`
	LeadMedian     time.Duration `json:"lead_time_median_ns"`
	Failed         int           `json:"failed"`
	ChangeFailRate float64       `json:"change_fail_rate"`
	Recovered      int           `json:"recovered"`
	RecoveryMedian time.Duration `json:"recovery_median_ns"`
	Rework         int           `json:"rework"`
	ReworkRate     float64       `json:"rework_rate"`
}

func (t tally) summary() Summary {
	s := Summary{Start: t.Start, End: t.End, Deploys: t.Deploys, LeadChanges: len(t.Leads), LeadMedian: median(t.Leads),
		Failed: t.Failed, Recovered: len(t.Recoveries), RecoveryMedian: median(t.Recoveries), Rework: t.Rework}
	if t.Days > 0 {
		s.PerDay = float64(t.Deploys) / t.Days
	}
	if t.Deploys > 0 {
		s.ChangeFailRate = float64(t.Failed) / float64(t.Deploys)
		s.ReworkRate = float64(t.Rework) / float64(t.Deploys)
	}
	return s
}

// period is one bucket of a series.
type period struct{ Start, End time.Time }

// months are the last n calendar months (UTC) up to end, the current one
// partial; weeks the ISO weeks (from Monday) over the same span.
func months(end time.Time, n int) []period {
	end = end.UTC()
	first := time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -(n - 1), 0)
	var out []period
	for m := first; m.Before(end); m = m.AddDate(0, 1, 0) {
		out = append(out, period{m, minTime(m.AddDate(0, 1, 0), end)})
	}
	return out
}

func weeks(start, end time.Time) []period {
	start = start.UTC()
	d := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)
	d = d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	var out []period
	for w := d; w.Before(end); w = w.AddDate(0, 0, 7) {
		out = append(out, period{maxTime(w, start), minTime(w.AddDate(0, 0, 7), end)})
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Targets are the team's goals, as a prevention plan writes them:
// "deploy_frequency: 10/day, lead_time: 1h, recovery_time: 15m,
// change_fail_rate: 5%, rework_rate: 10%". A metric without a target is
// shown without one.
type Targets struct {
	PerDay         float64       `json:"deploy_frequency_per_day,omitempty"`
	LeadTime       time.Duration `json:"lead_time_ns,omitempty"`
	Recovery       time.Duration `json:"recovery_time_ns,omitempty"`
	ChangeFailRate *float64      `json:"change_fail_rate,omitempty"`
	ReworkRate     *float64      `json:"rework_rate,omitempty"`
}

// TargetsForm is the accepted form of the targets setting.
const TargetsForm = "comma-separated metric: goal pairs, e.g. deploy_frequency: 10/day, lead_time: 1h, recovery_time: 15m, change_fail_rate: 5%, rework_rate: 10% (frequency per day, week or month; durations as 30m, 4h, 2d)"

// ParseTargets reads the targets setting.
func ParseTargets(v string) (Targets, error) {
	var t Targets
	given := map[string]string{} // metric -> the name it was given under
	for _, part := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' }) {
		k, val, ok := strings.Cut(part, ":")
		k, val = strings.TrimSpace(k), strings.TrimSpace(val)
		if k == "" && val == "" {
			continue
		}
		if !ok || val == "" {
			return t, fmt.Errorf("%q is not metric: goal", strings.TrimSpace(part))
		}
		m, known := targetAliases[k]
		if !known {
			return t, fmt.Errorf("unknown metric %q (deploy_frequency, lead_time, recovery_time, change_fail_rate, rework_rate)", k)
		}
		// A second goal for a metric would silently replace the first.
		if first, dup := given[m]; dup {
			return t, fmt.Errorf("%s has two goals (%s and %s)", m, first, k)
		}
		given[m] = k
		switch m {
		case "deploy_frequency":
			n, unit, _ := strings.Cut(val, "/")
			f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
			per := map[string]float64{"day": 1, "week": 7, "month": 30}[strings.TrimSpace(unit)]
			if err != nil || f <= 0 || per == 0 {
				return t, fmt.Errorf("deploy_frequency %q is not a count per day, week or month (10/day)", val)
			}
			t.PerDay = f / per
		case "lead_time", "recovery_time":
			d, err := config.ParseDays(val)
			if err != nil || d <= 0 {
				return t, fmt.Errorf("%s %q is not a duration (1h, 15m, 2d)", k, val)
			}
			if m == "lead_time" {
				t.LeadTime = d
			} else {
				t.Recovery = d
			}
		case "change_fail_rate", "rework_rate":
			p, err := config.ParsePercent(val)
			if err != nil {
				return t, fmt.Errorf("%s %q: %v", k, val, err)
			}
			if m == "change_fail_rate" {
				t.ChangeFailRate = &p
			} else {
				t.ReworkRate = &p
			}
		}
	}
	return t, nil
}

// targetAliases are the names a target is given under, to its metric.
var targetAliases = map[string]string{
	"deploy_frequency": "deploy_frequency", "deployment_frequency": "deploy_frequency",
	"lead_time": "lead_time", "change_lead_time": "lead_time",
	"recovery_time": "recovery_time", "failed_deployment_recovery_time": "recovery_time",
	"change_fail_rate": "change_fail_rate",
	"rework_rate":      "rework_rate", "deployment_rework_rate": "rework_rate",
}

// TargetRow is one metric against its target: "6.2/day → 10/day".
type TargetRow struct {
	Metric  string `json:"metric"`
	Current string `json:"current"`
	Target  string `json:"target"`
	Gap     string `json:"gap"`
	Met     bool   `json:"met"`
}

// Line is the row as a plan writes it.
func (r TargetRow) Line() string {
	return fmt.Sprintf("%s %s → target %s (%s)", r.Metric, r.Current, r.Target, r.Gap)
}

func (t Targets) rows(s Summary) []TargetRow {
	var out []TargetRow
	if t.PerDay > 0 {
		gap := t.PerDay - s.PerDay
		r := TargetRow{Metric: "Deployment frequency", Current: num(s.PerDay) + "/day", Target: num(t.PerDay) + "/day", Met: gap <= 0}
		r.Gap = "met"
		if !r.Met {
			r.Gap = num(gap) + "/day short"
		}
		out = append(out, r)
	}
	durRow := func(name string, cur time.Duration, n int, target time.Duration) {
		r := TargetRow{Metric: name, Current: optDur(cur), Target: human.Duration(target)}
		switch {
		case n == 0:
			r.Current, r.Gap = "not measured", "no data"
		case cur <= target:
			r.Met, r.Gap = true, "met"
		default:
			r.Gap = human.Duration(cur-target) + " over"
		}
		out = append(out, r)
	}
	if t.LeadTime > 0 {
		durRow("Change lead time", s.LeadMedian, s.LeadChanges, t.LeadTime)
	}
	if t.Recovery > 0 {
		durRow("Failed deployment recovery time", s.RecoveryMedian, s.Recovered, t.Recovery)
	}
	rateRow := func(name string, cur float64, target *float64) {
		r := TargetRow{Metric: name, Current: human.Percent(cur), Target: human.Percent(*target), Met: cur <= *target}
		switch {
		case s.Deploys == 0:
			r.Current, r.Gap, r.Met = "no deploys", "no data", false
		case r.Met:
			r.Gap = "met"
		default:
			r.Gap = strconv.FormatFloat(math.Round((cur-*target)*1000)/10, 'f', -1, 64) + " points over"
		}
		out = append(out, r)
	}
	if t.ChangeFailRate != nil {
		rateRow("Change fail rate", s.ChangeFailRate, t.ChangeFailRate)
	}
	if t.ReworkRate != nil {
		rateRow("Deployment rework rate", s.ReworkRate, t.ReworkRate)
	}
	return out
}

// guard is a prevention measure pmguard dates from its own events, and the
// metric it is meant to move.
type guard struct {
	Name   string
	Events []string
	Metric string // change_fail_rate | recovery_time
}

var guards = []guard{
	{"canary analysis", []string{events.CanaryStarted, events.CanaryPassed, events.CanaryFailed, events.CanaryInconclusive}, "change_fail_rate"},
	{"automatic rollback", []string{events.RollbackInitiated, events.RollbackCompleted}, "recovery_time"},
	{"migration check", []string{events.MigrationOK, events.MigrationBlocked}, "change_fail_rate"},
}

// minSide is the fewest deploys on each side below which a before/after
// comparison is called too small to read anything from.
const minSide = 20

// BeforeAfter is a guard's targeted metric before and after the project
// first used it.
type BeforeAfter struct {
	Guard   string    `json:"guard"`
	Since   time.Time `json:"first_used"`
	Metric  string    `json:"metric"`
	Before  Summary   `json:"before"`
	After   Summary   `json:"after"`
	Value   [2]string `json:"values"` // before, after, as text
	Reading string    `json:"reading"`
}

func (b BeforeAfter) value(s Summary) string {
	if b.Metric == "recovery_time" {
		if s.Recovered == 0 {
			return "no recovered failure"
		}
		return fmt.Sprintf("median %s (%d recovered)", human.Duration(s.RecoveryMedian), s.Recovered)
	}
	if s.Deploys == 0 {
		return "no deploys"
	}
	return fmt.Sprintf("%s (%d of %d)", human.Percent(s.ChangeFailRate), s.Failed, s.Deploys)
}

// reading says plainly what the comparison can and cannot show.
func (b BeforeAfter) reading() string {
	n0, n1 := b.Before.Deploys, b.After.Deploys
	base := fmt.Sprintf("%d deploys before, %d after. ", n0, n1)
	if n0 < minSide || n1 < minSide {
		return base + fmt.Sprintf("Too few deploys on one side (under %d) to tell a change from chance.", minSide) + " " + caveat
	}
	return base + "This shows how the metric differed after the guard was first used, not that the guard caused it. " + caveat
}

const caveat = "Other things changed over the same time (code, traffic, team, how often you deploy), and a guard that stops a bad deploy earlier can also make more failures visible."

// beforeAfter compares each guard's targeted metric before and after its
// first event, over the project's stored deploys since start.
func beforeAfter(in Input, evs []Signal, now time.Time) []BeforeAfter {
	var out []BeforeAfter
	for _, g := range guards {
		var first time.Time
		for _, e := range evs {
			for _, k := range g.Events {
				if e.Kind == k && (first.IsZero() || e.Time.Before(first)) {
					first = e.Time
				}
			}
		}
		if first.IsZero() || !first.After(in.Start) {
			continue
		}
		before, after := in, in
		before.End, after.Start, after.End = first, first, now
		b := BeforeAfter{Guard: g.Name, Since: first, Metric: g.Metric,
			Before: tallyOf(Compute(before)).summary(), After: tallyOf(Compute(after)).summary()}
		b.Value = [2]string{b.value(b.Before), b.value(b.After)}
		b.Reading = b.reading()
		out = append(out, b)
	}
	return out
}

// Unit is a project, a team or the organisation, with its figures over the
// window, its monthly and weekly series, targets and guards.
type Unit struct {
	Kind     string        `json:"kind"` // project | team | organisation
	Name     string        `json:"name"`
	Team     string        `json:"team,omitempty"`
	Projects []string      `json:"projects,omitempty"`
	Window   Summary       `json:"window"`
	Months   []Summary     `json:"months"`
	Weeks    []Summary     `json:"weeks"`
	Targets  []TargetRow   `json:"targets,omitempty"`
	Trend    string        `json:"trend"`
	Guards   []BeforeAfter `json:"before_after,omitempty"`

	window        tally
	months, weeks []tally
}

// projectUnit computes a project's unit from its stored history.
func projectUnit(name, team string, in Input, sig []Signal, ms, ws []period, now time.Time) *Unit {
	u := &Unit{Kind: "project", Name: name, Team: team, window: tallyOf(Compute(in))}
	for _, p := range ms {
		u.months = append(u.months, tallyOf(Compute(in.around(p))))
	}
	for _, p := range ws {
		u.weeks = append(u.weeks, tallyOf(Compute(in.around(p))))
	}
	hist := in
	if len(ms) > 0 {
		hist.Start = ms[0].Start
	}
	u.Guards = beforeAfter(hist, sig, now)
	return u
}

// margin is how far around a period its deploys are looked at: the
// rollback of a deploy, or the forward fix that recovered it, within it.
const margin = 30 * 24 * time.Hour

// around is the input over period p, holding only the deploys and commits
// that can bear on it, so a long history's series cost what its periods do.
func (in Input) around(p period) Input {
	x := in
	x.Start, x.End = p.Start, p.End
	lo, hi := sort.Search(len(in.Deploys), func(i int) bool { return !in.Deploys[i].Created.Before(p.Start.Add(-margin)) }),
		sort.Search(len(in.Deploys), func(i int) bool { return !in.Deploys[i].Created.Before(p.End.Add(margin)) })
	x.Deploys = in.Deploys[lo:hi]
	x.Changes = nil
	for _, c := range in.Changes {
		if !c.Deployed.Before(p.Start) && c.Deployed.Before(p.End) {
			x.Changes = append(x.Changes, c)
		}
	}
	return x
}

// combine adds projects' units into a team's or the organisation's.
func combine(kind, name string, us []*Unit) *Unit {
	c := &Unit{Kind: kind, Name: name}
	for i, u := range us {
		c.Projects = append(c.Projects, u.Name)
		if i == 0 {
			c.window = tally{Start: u.window.Start, End: u.window.End, Days: u.window.Days}
			for _, m := range u.months {
				c.months = append(c.months, tally{Start: m.Start, End: m.End, Days: m.Days})
			}
			for _, w := range u.weeks {
				c.weeks = append(c.weeks, tally{Start: w.Start, End: w.End, Days: w.Days})
			}
		}
		c.window.add(u.window)
		for j := range c.months {
			c.months[j].add(u.months[j])
		}
		for j := range c.weeks {
			c.weeks[j].add(u.weeks[j])
		}
	}
	sort.Strings(c.Projects)
	return c
}

// finish turns the tallies into summaries, targets and the trend.
func (u *Unit) finish(t Targets) {
	u.Window = u.window.summary()
	u.Months, u.Weeks = nil, nil
	for _, m := range u.months {
		u.Months = append(u.Months, m.summary())
	}
	for _, w := range u.weeks {
		u.Weeks = append(u.Weeks, w.summary())
	}
	u.Targets = t.rows(u.Window)
	u.Trend = monthTrend(u.Months)
}

// monthTrend compares the last full months' halves: the first half of the
// months with the second (the current, partial month left out).
func monthTrend(ms []Summary) string {
	if len(ms) > 1 {
		ms = ms[:len(ms)-1]
	}
	if len(ms) < 2 {
		return "not enough months"
	}
	a, b := ms[:len(ms)/2], ms[len(ms)-len(ms)/2:]
	sum := func(xs []Summary, f func(Summary) float64) float64 {
		t := 0.0
		for _, x := range xs {
			t += f(x)
		}
		return t
	}
	per := func(xs []Summary) float64 {
		days := sum(xs, func(s Summary) float64 { return s.End.Sub(s.Start).Hours() / 24 })
		return sum(xs, func(s Summary) float64 { return float64(s.Deploys) }) / days
	}
	cfr := func(xs []Summary) (float64, bool) {
		d := sum(xs, func(s Summary) float64 { return float64(s.Deploys) })
		return sum(xs, func(s Summary) float64 { return float64(s.Failed) }) / math.Max(d, 1), d > 0
	}
	fa, fb := per(a), per(b)
	ca, okA := cfr(a)
	cb, okB := cfr(b)
	return fmt.Sprintf("deploys/day %s → %s (%s); change fail rate %s → %s (%s)", num(fa), num(fb), direction(fa, fb, true, true, true),
		human.Percent(ca), human.Percent(cb), direction(ca, cb, okA, okB, false))
}
