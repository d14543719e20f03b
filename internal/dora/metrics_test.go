package dora

import (
	"testing"
	"time"
)

// The synthetic history: a two-week window, Monday 2026-11-02 00:00 UTC to
// Monday 2026-11-16 00:00 UTC, weekends without deploys.
//
//	D0  Fri 10-30 16:00  success  c0            (before the window: the baseline)
//	D1  Mon 11-02 10:00  success  c1
//	D2  Tue 11-03 10:00  success  c2            canary_failed at 10:05, no rollback
//	D3  Tue 11-03 12:00  success  c3            forward fix of D2
//	D4  Wed 11-04 09:00  FAILED   c4            deploy workflow failed
//	D5  Thu 11-05 09:00  success  c5            restores D4
//	D6  Fri 11-06 16:00  success  c6
//	D7  Mon 11-09 10:00  success  c7            rolled back by R1
//	R1  Mon 11-09 10:30  success  c6  rollback of D7
//	D8  Mon 11-09 14:00  success  c8            rolled back by R2 (second rollback that day)
//	R2  Mon 11-09 14:20  success  c6  rollback of D8
//	D9  Wed 11-11 11:00  success  c9            ships c9a (Sat 11-07), c9b (Tue 11-10), c9
//	D10 Thu 11-12 10:00  canceled c10           not a deployment
//	D11 Fri 11-13 15:00  success  c11           ships c10 and c11
func syntheticDeploys() []Deploy {
	d := func(id string, n int64, finished, status, rev string) Deploy {
		f := ts(finished)
		return Deploy{PipelineID: id, Number: n, WorkflowID: "wf-" + id, Workflow: "deploy", Revision: rev,
			Created: f.Add(-5 * time.Minute), Finished: f, Status: status}
	}
	r1 := d("R1", 108, "2026-11-09 10:30", "success", "c6")
	r1.Rollback, r1.RollbackOf = true, "D7"
	r2 := d("R2", 110, "2026-11-09 14:20", "success", "c6")
	r2.Rollback, r2.RollbackOf = true, "D8"
	return []Deploy{
		d("D0", 100, "2026-10-30 16:00", "success", "c0"),
		d("D1", 101, "2026-11-02 10:00", "success", "c1"),
		d("D2", 102, "2026-11-03 10:00", "success", "c2"),
		d("D3", 103, "2026-11-03 12:00", "success", "c3"),
		d("D4", 104, "2026-11-04 09:00", "failed", "c4"),
		d("D5", 105, "2026-11-05 09:00", "success", "c5"),
		d("D6", 106, "2026-11-06 16:00", "success", "c6"),
		d("D7", 107, "2026-11-09 10:00", "success", "c7"),
		r1,
		d("D8", 109, "2026-11-09 14:00", "success", "c8"),
		r2,
		d("D9", 111, "2026-11-11 11:00", "success", "c9"),
		d("D10", 112, "2026-11-12 10:00", "canceled", "c10"),
		d("D11", 113, "2026-11-13 15:00", "success", "c11"),
	}
}

func ts(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// syntheticChanges is what git attribution yields for the history (checked
// against a real repository in TestGitAttribution).
//
//	commit  authored          first shipped by   lead time
//	c1      Mon 11-02 08:00   D1 Mon 10:00        2h
//	c2      Fri 10-30 15:00   D2 Tue 11-03 10:00  91h (over the weekend)
//	c3      Tue 11-03 11:00   D3 Tue 12:00        1h
//	c4      Wed 11-04 08:00   D5 Thu 09:00        25h (D4 failed)
//	c5      Thu 11-05 08:30   D5 Thu 09:00        30m
//	c6      Fri 11-06 15:00   D6 Fri 16:00        1h
//	c7      Mon 11-09 09:00   D7 Mon 10:00        1h
//	c8      Mon 11-09 13:00   D8 Mon 14:00        1h
//	c9a     Sat 11-07 10:00   D9 Wed 11-11 11:00  97h
//	c9b     Tue 11-10 10:00   D9 Wed 11:00        25h
//	c9      Wed 11-11 10:00   D9 Wed 11:00        1h
//	c10     Thu 11-12 09:00   D11 Fri 11-13 15:00 30h (D10 canceled)
//	c11     Fri 11-13 14:00   D11 Fri 15:00       1h
var syntheticCommits = []struct{ commit, authored, deploy string }{
	{"c1", "2026-11-02 08:00", "D1"}, {"c2", "2026-10-30 15:00", "D2"}, {"c3", "2026-11-03 11:00", "D3"},
	{"c4", "2026-11-04 08:00", "D5"}, {"c5", "2026-11-05 08:30", "D5"}, {"c6", "2026-11-06 15:00", "D6"},
	{"c7", "2026-11-09 09:00", "D7"}, {"c8", "2026-11-09 13:00", "D8"}, {"c9a", "2026-11-07 10:00", "D9"},
	{"c9b", "2026-11-10 10:00", "D9"}, {"c9", "2026-11-11 10:00", "D9"}, {"c10", "2026-11-12 09:00", "D11"},
	{"c11", "2026-11-13 14:00", "D11"},
}

func syntheticChanges() []Change {
	finished := map[string]time.Time{}
	for _, d := range syntheticDeploys() {
		finished[d.PipelineID] = d.Finished
	}
	var out []Change
	for _, c := range syntheticCommits {
		out = append(out, Change{Commit: c.commit, Authored: ts(c.authored), PipelineID: c.deploy, Deployed: finished[c.deploy]})
	}
	return out
}

func syntheticInput() Input {
	return Input{
		Start: ts("2026-11-02 00:00"), End: ts("2026-11-16 00:00"),
		Deploys: syntheticDeploys(),
		Signals: []Signal{{Time: ts("2026-11-03 10:05"), Kind: "canary_failed", PipelineID: "D2"}},
		Changes: syntheticChanges(),
	}
}

func TestSyntheticHistory(t *testing.T) {
	r := Compute(syntheticInput())

	// Deployments in the window: D1-D9, R1, R2, D11 = 12 (D0 is before it,
	// D10 was canceled). 12 / 14 days = 0.857 a day, 6 a week: at least
	// weekly but under daily, High. Deployment days: Mon 2, Tue 3, Wed 4,
	// Thu 5, Fri 6, Mon 9, Wed 11, Fri 13 = 8; no weekend day.
	f := r.Frequency
	if f.Deploys != 12 || f.DeploymentDays != 8 || !near(f.PerDay, 12.0/14) || !near(f.PerWeek, 6) || f.Band != High {
		t.Errorf("frequency = %+v, want 12 deploys, 8 days, 0.857/day, 6/week, high", f)
	}

	// Failed: D2 (canary failed), D4 (workflow failed), D7 and D8 (rolled
	// back) = 4 of 12 = 33.3%: above High's 20%, within Low's 40%.
	if c := r.ChangeFailRate; c.Count != 4 || c.Deploys != 12 || !near(c.Rate, 1.0/3) || c.Band != Low {
		t.Errorf("change fail rate = %+v, want 4/12, low", c)
	}
	wantFail := map[string]struct {
		reason, by string
		rec        time.Duration
	}{
		"D2": {"canary_failed", "forward fix", 2 * time.Hour},           // 10:00 -> D3 12:00
		"D4": {"deploy workflow failed", "forward fix", 24 * time.Hour}, // Wed 09:00 -> D5 Thu 09:00
		"D7": {"rolled back", "rollback", 30 * time.Minute},             // 10:00 -> R1 10:30
		"D8": {"rolled back", "rollback", 20 * time.Minute},             // 14:00 -> R2 14:20
	}
	for _, fl := range r.Failures {
		w, ok := wantFail[fl.Deploy.PipelineID]
		if !ok || fl.Reason != w.reason || fl.RecoveredBy != w.by || fl.Recovery != w.rec {
			t.Errorf("failure %s: %q recovered by %q in %v; want %+v", fl.Deploy.PipelineID, fl.Reason, fl.RecoveredBy, fl.Recovery, w)
		}
	}
	// Recovery times 20m, 30m, 2h, 24h: median (30m + 2h) / 2 = 75m, under a
	// day: High.
	if rc := r.Recovery; rc.Recovered != 4 || rc.Unrecovered != 0 || rc.Median != 75*time.Minute || rc.Band != High {
		t.Errorf("recovery = %+v, want 4 recovered, median 75m, high", rc)
	}
	// Rework: R1, R2 (rollbacks), D3 (fixes D2), D5 (restores D4) = 4/12.
	if rw := r.Rework; rw.Count != 4 || !near(rw.Rate, 1.0/3) || rw.Band != NoBand {
		t.Errorf("rework = %+v, want 4/12 without a band", rw)
	}
	// Lead times sorted: 0.5 1 1 1 1 1 1 2 25 25 30 91 97 hours (13).
	// Median: the 7th = 1h (Elite). p90: nearest rank ceil(0.9*13) = 12th = 91h.
	if l := r.LeadTime; l.Changes != 13 || l.Median != time.Hour || l.P90 != 91*time.Hour || l.Band != Elite {
		t.Errorf("lead time = %+v, want 13 changes, median 1h, p90 91h, elite", l)
	}

	// Week 1 (11-02..11-08): D1-D6 = 6 deploys, 2 failed, 2 rework; lead
	// times 0.5 1 1 2 25 115 -> median 1.5h; recoveries 2h, 24h -> 13h.
	// Week 2: D7 R1 D8 R2 D9 D11 = 6, 2 failed, 2 rework; lead 1 1 1 1 25
	// 30 97 -> 1h; recoveries 30m, 20m -> 25m.
	want := []Week{
		{Start: ts("2026-11-02 00:00"), Days: 7, Deploys: 6, Failed: 2, Rework: 2, LeadMedian: 90 * time.Minute, RecoveryMedian: 13 * time.Hour},
		{Start: ts("2026-11-09 00:00"), Days: 7, Deploys: 6, Failed: 2, Rework: 2, LeadMedian: time.Hour, RecoveryMedian: 25 * time.Minute},
	}
	if len(r.Weeks) != 2 {
		t.Fatalf("weeks = %d, want 2", len(r.Weeks))
	}
	for i, w := range want {
		if r.Weeks[i] != w {
			t.Errorf("week %d = %+v, want %+v", i+1, r.Weeks[i], w)
		}
	}
	// Same deploys and failure share both weeks; lead and recovery times fell.
	wantTrend := Trend{Frequency: Steady, LeadTime: Improving, ChangeFailRate: Steady, Recovery: Improving, Rework: Steady}
	if r.Trend != wantTrend {
		t.Errorf("trend = %+v, want %+v", r.Trend, wantTrend)
	}
}

// A rollback known only from the event log (no rollback pipeline in the
// history) still marks the deploy failed and ends its recovery.
func TestRollbackFromEvents(t *testing.T) {
	in := Input{Start: ts("2026-11-02 00:00"), End: ts("2026-11-03 00:00"),
		Deploys: []Deploy{
			{PipelineID: "A", Number: 1, Created: ts("2026-11-02 09:55"), Finished: ts("2026-11-02 10:00"), Status: "success"},
			{PipelineID: "B", Number: 2, Created: ts("2026-11-02 11:55"), Finished: ts("2026-11-02 12:00"), Status: "success"},
		},
		Signals: []Signal{
			{Time: ts("2026-11-02 10:10"), Kind: "rollback_initiated", PipelineID: "A"},
			{Time: ts("2026-11-02 10:25"), Kind: "rollback_completed", PipelineID: "A"},
		}}
	r := Compute(in)
	// A failed (1 of 2), recovered by the rollback 25 minutes after it shipped.
	if r.ChangeFailRate.Count != 1 || r.Recovery.Median != 25*time.Minute || r.Failures[0].RecoveredBy != "rollback (event log)" {
		t.Errorf("got fail %+v recovery %+v failures %+v", r.ChangeFailRate, r.Recovery, r.Failures)
	}
	// B is planned work, not rework: the rollback restored service.
	if r.Rework.Count != 0 {
		t.Errorf("rework = %d, want 0", r.Rework.Count)
	}
}

func TestBands(t *testing.T) {
	cases := []struct {
		name string
		got  Band
		want Band
	}{
		{"twice a day", FrequencyBand(2), Elite},
		{"every workday", FrequencyBand(5.0 / 7), High},
		{"weekly", FrequencyBand(1.0 / 7), High},
		{"fortnightly", FrequencyBand(1.0 / 14), Medium},
		{"quarterly", FrequencyBand(1.0 / 90), Low},
		{"lead 3h", LeadTimeBand(3 * time.Hour), Elite},
		{"lead 3d", LeadTimeBand(3 * day), High},
		{"lead 2w", LeadTimeBand(14 * day), Medium},
		{"lead 2mo", LeadTimeBand(60 * day), Low},
		{"cfr 5%", ChangeFailBand(0.05), Elite},
		{"cfr 10%", ChangeFailBand(0.10), High},
		{"cfr 30%", ChangeFailBand(0.30), Low},
		{"recovery 59m", RecoveryBand(59 * time.Minute), Elite},
		{"recovery 5h", RecoveryBand(5 * time.Hour), High},
		{"recovery 3d", RecoveryBand(3 * day), Low},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("%s: %s, want %s", c.name, c.got, c.want)
		}
	}
}

func near(a, b float64) bool { return a-b < 1e-9 && b-a < 1e-9 }

// A 30-day window has four weeks, the last of nine days, and a steady pace
// of one deploy a day is steady, not a drop in a stub of a week.
func TestWeeksOfAMonth(t *testing.T) {
	in := Input{Start: ts("2026-10-17 00:00"), End: ts("2026-11-16 00:00")}
	for d := 0; d < 30; d++ {
		f := in.Start.Add(time.Duration(d)*day + 12*time.Hour)
		in.Deploys = append(in.Deploys, Deploy{PipelineID: f.String(), Created: f.Add(-time.Minute), Finished: f, Status: "success"})
	}
	r := Compute(in)
	if len(r.Weeks) != 4 || r.Weeks[3].Days != 9 || r.Weeks[3].Deploys != 9 {
		t.Fatalf("weeks = %+v", r.Weeks)
	}
	if r.Trend.Frequency != Steady {
		t.Errorf("frequency trend = %s, want steady", r.Trend.Frequency)
	}
}

// A failure near the end of a period whose fix lands after it is recovered
// in that period's figures, not counted unrecovered; the fix is rework of
// the period it lands in only. A period without deploys has no change
// failure band.
func TestRecoveryAcrossThePeriodEnd(t *testing.T) {
	deps := []Deploy{
		{PipelineID: "A", Number: 1, Created: ts("2026-11-30 09:55"), Finished: ts("2026-11-30 10:00"), Status: "failed"},
		{PipelineID: "B", Number: 2, Created: ts("2026-12-02 09:55"), Finished: ts("2026-12-02 10:00"), Status: "success"},
	}
	nov := Compute(Input{Start: ts("2026-11-01 00:00"), End: ts("2026-12-01 00:00"), Deploys: deps})
	if nov.Recovery.Recovered != 1 || nov.Recovery.Unrecovered != 0 || nov.Recovery.Median != 48*time.Hour {
		t.Errorf("November: recovery %+v, want 1 recovered in 48h", nov.Recovery)
	}
	if nov.Rework.Count != 0 {
		t.Errorf("November: rework %d, want 0 (the fix is December's)", nov.Rework.Count)
	}
	dec := Compute(Input{Start: ts("2026-12-01 00:00"), End: ts("2026-12-31 00:00"), Deploys: deps})
	if dec.Rework.Count != 1 || dec.ChangeFailRate.Count != 0 {
		t.Errorf("December: rework %d, failures %d; want 1 and 0", dec.Rework.Count, dec.ChangeFailRate.Count)
	}
	none := Compute(Input{Start: ts("2026-10-01 00:00"), End: ts("2026-11-01 00:00"), Deploys: deps})
	if none.ChangeFailRate.Band != NoBand {
		t.Errorf("no deploys: change fail band %q, want none", none.ChangeFailRate.Band)
	}
}
