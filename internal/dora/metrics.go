package dora

import (
	"math"
	"sort"
	"time"
)

// Deploy is one run of the deploy workflow.
type Deploy struct {
	PipelineID string    `json:"pipeline_id"`
	Number     int64     `json:"pipeline_number"`
	WorkflowID string    `json:"workflow_id,omitempty"`
	Workflow   string    `json:"workflow"`
	Revision   string    `json:"revision,omitempty"`
	Created    time.Time `json:"created"`
	Finished   time.Time `json:"finished,omitzero"`
	Status     string    `json:"status"`
	// Rollback marks a deploy started to roll another back (pipeline
	// parameter pmguard_rollback); RollbackOf is the pipeline it rolled back.
	Rollback   bool   `json:"rollback,omitempty"`
	RollbackOf string `json:"rollback_of,omitempty"`
}

// Counts says whether the run is a deployment: it ran to an end that
// touched production (success, or failed/error part way). Canceled, not run,
// on hold and running workflows are not deployments.
func (d Deploy) Counts() bool {
	switch d.Status {
	case "success", "failed", "error":
		return !d.Finished.IsZero()
	}
	return false
}

// Signal is a fact from pmguard's event log about a deploy: an incident
// (canary or health check failed), or a rollback started or completed.
type Signal struct {
	Time time.Time
	// Kind is the event name: canary_failed, health_failed,
	// rollback_initiated, rollback_completed.
	Kind string
	// PipelineID is the deploy pipeline the signal is about (for a rollback,
	// the pipeline rolled back).
	PipelineID string
}

// Change is one commit with its author time and the successful deploy that
// first shipped it.
type Change struct {
	Commit     string    `json:"commit"`
	Authored   time.Time `json:"authored"`
	PipelineID string    `json:"pipeline_id"`
	Deployed   time.Time `json:"deployed"`
}

// LeadTime is the commit's change lead time.
func (c Change) LeadTime() time.Duration { return c.Deployed.Sub(c.Authored) }

// Input is the history the metrics are computed over.
type Input struct {
	Start, End time.Time
	// Location is the time zone of calendar days (deployment days).
	Location *time.Location
	Deploys  []Deploy
	Signals  []Signal
	Changes  []Change
	// CIRecovery is CircleCI Insights' own MTTR for the deploy workflow, when
	// fetched; it is reported apart from DORA's recovery time.
	CIRecovery *CIRecovery
	Notes      []string
}

// CIRecovery is CircleCI Insights' mean time to recovery: the mean time
// from a failed run of the workflow to its next successful run. It measures
// CI, not production, so it is not DORA's failed deployment recovery time.
type CIRecovery struct {
	Workflow    string        `json:"workflow"`
	MTTR        time.Duration `json:"mttr_ns"`
	WindowStart time.Time     `json:"window_start,omitzero"`
	WindowEnd   time.Time     `json:"window_end,omitzero"`
}

// Figures are the computed metrics (the JSON report's body).
type Figures struct {
	Start          time.Time      `json:"window_start"`
	End            time.Time      `json:"window_end"`
	Days           float64        `json:"window_days"`
	Frequency      Frequency      `json:"deployment_frequency"`
	LeadTime       LeadTime       `json:"change_lead_time"`
	ChangeFailRate Rate           `json:"change_fail_rate"`
	Recovery       Recovery       `json:"failed_deployment_recovery_time"`
	Rework         Rate           `json:"deployment_rework_rate"`
	Weeks          []Week         `json:"weeks"`
	Trend          Trend          `json:"trend"`
	Failures       []Failure      `json:"failures"`
	CIRecovery     *CIRecovery    `json:"ci_recovery,omitempty"`
	BandSource     string         `json:"band_source"`
	Notes          []string       `json:"notes,omitempty"`
	Deploys        []Deploy       `json:"-"`
	Changes        []Change       `json:"-"`
	Location       *time.Location `json:"-"`
}

// Frequency is deployment frequency.
type Frequency struct {
	Deploys        int     `json:"deploys"`
	PerDay         float64 `json:"per_day"`
	PerWeek        float64 `json:"per_week"`
	DeploymentDays int     `json:"deployment_days"`
	Band           Band    `json:"band"`
}

// LeadTime is change lead time over the commits first deployed in the window.
type LeadTime struct {
	Changes int           `json:"changes"`
	Median  time.Duration `json:"median_ns"`
	P90     time.Duration `json:"p90_ns"`
	Band    Band          `json:"band"`
}

// Rate is a share of deployments.
type Rate struct {
	Count   int     `json:"count"`
	Deploys int     `json:"deploys"`
	Rate    float64 `json:"rate"`
	Band    Band    `json:"band"`
}

// Recovery is failed deployment recovery time.
type Recovery struct {
	Recovered   int           `json:"recovered"`
	Unrecovered int           `json:"unrecovered"`
	Median      time.Duration `json:"median_ns"`
	Band        Band          `json:"band"`
}

// Failure is one failed deployment and how it was recovered.
type Failure struct {
	Deploy      Deploy        `json:"deploy"`
	Reason      string        `json:"reason"`
	RecoveredAt time.Time     `json:"recovered_at,omitzero"`
	RecoveredBy string        `json:"recovered_by,omitempty"` // rollback | forward fix | rollback event
	Recovery    time.Duration `json:"recovery_ns"`
	FixPipeline int64         `json:"fix_pipeline_number,omitempty"`
}

// Week is one week of the window, for the trend and the chart.
type Week struct {
	Start          time.Time     `json:"start"`
	Days           float64       `json:"days"`
	Deploys        int           `json:"deploys"`
	Failed         int           `json:"failed"`
	Rework         int           `json:"rework"`
	LeadMedian     time.Duration `json:"lead_time_median_ns"`
	RecoveryMedian time.Duration `json:"recovery_median_ns"`
}

// Direction is how a metric moved from the window's first half to its second.
type Direction string

// Trend directions.
const (
	Improving Direction = "improving"
	Worsening Direction = "worsening"
	Steady    Direction = "steady"
	Unknown   Direction = "not enough data"
)

// Trend is each metric's direction over the window.
type Trend struct {
	Frequency      Direction `json:"deployment_frequency"`
	LeadTime       Direction `json:"change_lead_time"`
	ChangeFailRate Direction `json:"change_fail_rate"`
	Recovery       Direction `json:"failed_deployment_recovery_time"`
	Rework         Direction `json:"deployment_rework_rate"`
}

// Compute derives the five metrics from the history:
//
//   - a deployment is a run of the deploy workflow that finished (success,
//     failed or error) inside the window, rollbacks included;
//   - a deployment failed when its workflow failed, a rollback rolled it back
//     (pipeline parameter pmguard_rollback_of or a rollback event), or a
//     pmguard guard failed on it (canary_failed, health_failed);
//   - it recovered at the end of the rollback that names it, else at the next
//     successful deployment that did not fail itself (a forward fix);
//   - rework deployments are the rollbacks and the forward fixes that
//     restored a failed deployment: unplanned deploys caused by an incident;
//   - lead time is per commit: author time to the end of the first
//     successful deployment that shipped it.
func Compute(in Input) *Figures {
	loc := in.Location
	if loc == nil {
		loc = time.UTC
	}
	r := &Figures{Start: in.Start, End: in.End, Days: in.End.Sub(in.Start).Hours() / 24, BandSource: Source,
		CIRecovery: in.CIRecovery, Notes: in.Notes, Location: loc}

	all := make([]Deploy, 0, len(in.Deploys)) // sized once: Compute runs per period of every series
	for _, d := range in.Deploys {
		if d.Counts() {
			all = append(all, d)
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Finished.Before(all[j].Finished) })
	inWindow := func(t time.Time) bool { return !t.Before(in.Start) && t.Before(in.End) }
	var deps []Deploy
	for _, d := range all {
		if inWindow(d.Finished) {
			deps = append(deps, d)
		}
	}
	r.Deploys = deps

	// Frequency.
	days := map[string]bool{}
	for _, d := range deps {
		days[d.Finished.In(loc).Format(time.DateOnly)] = true
	}
	r.Frequency = Frequency{Deploys: len(deps), DeploymentDays: len(days)}
	if r.Days > 0 {
		r.Frequency.PerDay = float64(len(deps)) / r.Days
		r.Frequency.PerWeek = r.Frequency.PerDay * 7
	}
	r.Frequency.Band = FrequencyBand(r.Frequency.PerDay)

	// Failures and their recovery.
	signals := map[string][]Signal{}
	for _, s := range in.Signals {
		signals[s.PipelineID] = append(signals[s.PipelineID], s)
	}
	rollbackOf := map[string]Deploy{} // failed pipeline -> first successful rollback deploy after it
	for _, d := range all {
		if d.Rollback && d.RollbackOf != "" && d.Status == "success" {
			if _, ok := rollbackOf[d.RollbackOf]; !ok {
				rollbackOf[d.RollbackOf] = d
			}
		}
	}
	failedIDs := map[string]string{} // pipeline+workflow -> reason
	key := func(d Deploy) string { return d.PipelineID + "/" + d.WorkflowID + "/" + d.Finished.String() }
	for _, d := range all {
		if reason := failureReason(d, signals[d.PipelineID], rollbackOf); reason != "" {
			failedIDs[key(d)] = reason
		}
	}
	at := make(map[string]int, len(all)) // key -> index in all
	for i, d := range all {
		at[key(d)] = i
	}
	rework := map[string]bool{}
	for _, d := range deps {
		if d.Rollback {
			rework[key(d)] = true
		}
	}
	// Every failure read is followed to its recovery: one before the
	// window may be fixed inside it (that fix is the window's rework), one
	// inside it may be fixed after it.
	for _, d := range all {
		reason, failed := failedIDs[key(d)]
		if !failed || !d.Finished.Before(in.End) {
			continue
		}
		f := Failure{Deploy: d, Reason: reason}
		if rb, ok := rollbackOf[d.PipelineID]; ok && !rb.Finished.Before(d.Finished) {
			f.RecoveredAt, f.RecoveredBy, f.FixPipeline = rb.Finished, "rollback", rb.Number
		} else if t, ok := rollbackCompleted(signals[d.PipelineID], d.Finished); ok {
			f.RecoveredAt, f.RecoveredBy = t, "rollback (event log)"
		} else {
			// The fix may land after the window (a failure on the 30th
			// fixed on the 2nd): it is looked for in every deploy read,
			// and counts as rework only inside the window.
			for _, n := range all[at[key(d)]+1:] {
				if _, bad := failedIDs[key(n)]; !bad && n.Status == "success" {
					f.RecoveredAt, f.RecoveredBy, f.FixPipeline = n.Finished, "forward fix", n.Number
					if n.Rollback {
						f.RecoveredBy = "rollback"
					}
					if inWindow(n.Finished) {
						rework[key(n)] = true
					}
					break
				}
			}
		}
		if !f.RecoveredAt.IsZero() {
			f.Recovery = f.RecoveredAt.Sub(d.Finished)
		}
		if inWindow(d.Finished) {
			r.Failures = append(r.Failures, f)
		}
	}
	r.ChangeFailRate = rate(len(r.Failures), len(deps))
	r.ChangeFailRate.Band = NoBand // no deploys: no rate to class
	if len(deps) > 0 {
		r.ChangeFailRate.Band = ChangeFailBand(r.ChangeFailRate.Rate)
	}
	var recoveries []time.Duration
	for _, f := range r.Failures {
		if f.RecoveredAt.IsZero() {
			r.Recovery.Unrecovered++
			continue
		}
		recoveries = append(recoveries, f.Recovery)
	}
	r.Recovery.Recovered = len(recoveries)
	r.Recovery.Median = median(recoveries)
	r.Recovery.Band = NoBand
	if len(recoveries) > 0 {
		r.Recovery.Band = RecoveryBand(r.Recovery.Median)
	}
	r.Rework = rate(len(rework), len(deps))
	r.Rework.Band = NoBand

	// Lead time, over the commits first deployed inside the window.
	var leads []time.Duration
	for _, c := range in.Changes {
		if inWindow(c.Deployed) {
			r.Changes = append(r.Changes, c)
			leads = append(leads, c.LeadTime())
		}
	}
	r.LeadTime = LeadTime{Changes: len(leads), Median: median(leads), P90: percentile(leads, 0.9), Band: NoBand}
	if len(leads) > 0 {
		r.LeadTime.Band = LeadTimeBand(r.LeadTime.Median)
	}

	r.weeks(rework, failedIDs, key)
	r.trend()
	return r
}

func failureReason(d Deploy, sig []Signal, rollbackOf map[string]Deploy) string {
	if d.Status == "failed" || d.Status == "error" {
		return "deploy workflow " + d.Status
	}
	if _, ok := rollbackOf[d.PipelineID]; ok {
		return "rolled back"
	}
	for _, s := range sig {
		if s.Time.Before(d.Created) {
			continue
		}
		switch s.Kind {
		case "rollback_initiated", "rollback_completed":
			return "rolled back"
		case "canary_failed", "health_failed":
			return s.Kind
		}
	}
	return ""
}

func rollbackCompleted(sig []Signal, after time.Time) (time.Time, bool) {
	for _, s := range sig {
		if s.Kind == "rollback_completed" && !s.Time.Before(after) {
			return s.Time, true
		}
	}
	return time.Time{}, false
}

func rate(n, of int) Rate {
	r := Rate{Count: n, Deploys: of}
	if of > 0 {
		r.Rate = float64(n) / float64(of)
	}
	return r
}

// median is the middle value, the mean of the two middle ones for an even
// count; zero for none.
func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// percentile is the nearest-rank percentile: the smallest value with at
// least p of the values at or below it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	rank := int(math.Ceil(p * float64(len(s))))
	if rank < 1 {
		rank = 1
	}
	return s[rank-1]
}

// weeks buckets the window into 7-day weeks from its start; the last week
// takes the days left over (a 30-day window has four weeks, the last of 9
// days), so no bucket is a stub that would skew the trend.
func (r *Figures) weeks(rework map[string]bool, failed map[string]string, key func(Deploy) string) {
	n := int(math.Floor(r.Days / 7))
	if n < 1 {
		n = 1
	}
	r.Weeks = make([]Week, n)
	idx := func(t time.Time) int {
		i := int(t.Sub(r.Start) / week)
		if i >= n {
			i = n - 1
		}
		return i
	}
	for i := range r.Weeks {
		r.Weeks[i].Start = r.Start.Add(time.Duration(i) * week)
		r.Weeks[i].Days = 7
	}
	r.Weeks[n-1].Days = r.Days - 7*float64(n-1)
	for _, d := range r.Deploys {
		w := &r.Weeks[idx(d.Finished)]
		w.Deploys++
		if _, ok := failed[key(d)]; ok {
			w.Failed++
		}
		if rework[key(d)] {
			w.Rework++
		}
	}
	leads := make([][]time.Duration, n)
	for _, c := range r.Changes {
		i := idx(c.Deployed)
		leads[i] = append(leads[i], c.LeadTime())
	}
	recs := make([][]time.Duration, n)
	for _, f := range r.Failures {
		if !f.RecoveredAt.IsZero() {
			i := idx(f.Deploy.Finished)
			recs[i] = append(recs[i], f.Recovery)
		}
	}
	for i := range r.Weeks {
		r.Weeks[i].LeadMedian = median(leads[i])
		r.Weeks[i].RecoveryMedian = median(recs[i])
	}
}

// trend compares the window's first half of weeks with its second half. A
// change of less than 10% is steady.
func (r *Figures) trend() {
	n := len(r.Weeks)
	if n < 2 {
		r.Trend = Trend{Unknown, Unknown, Unknown, Unknown, Unknown}
		return
	}
	first, second := r.Weeks[:n/2], r.Weeks[n-n/2:]
	sum := func(ws []Week, f func(Week) float64) float64 {
		t := 0.0
		for _, w := range ws {
			t += f(w)
		}
		return t
	}
	deploys := func(w Week) float64 { return float64(w.Deploys) }
	ratio := func(ws []Week, f func(Week) float64) (float64, bool) {
		d := sum(ws, deploys)
		if d == 0 {
			return 0, false
		}
		return sum(ws, f) / d, true
	}
	medianOf := func(ws []Week, f func(Week) time.Duration) (float64, bool) {
		var ds []time.Duration
		for _, w := range ws {
			if v := f(w); v > 0 {
				ds = append(ds, v)
			}
		}
		if len(ds) == 0 {
			return 0, false
		}
		return float64(median(ds)), true
	}
	days := func(w Week) float64 { return w.Days }
	r.Trend.Frequency = direction(sum(first, deploys)/sum(first, days), sum(second, deploys)/sum(second, days), true, true, true)
	a, okA := ratio(first, func(w Week) float64 { return float64(w.Failed) })
	b, okB := ratio(second, func(w Week) float64 { return float64(w.Failed) })
	r.Trend.ChangeFailRate = direction(a, b, okA, okB, false)
	a, okA = ratio(first, func(w Week) float64 { return float64(w.Rework) })
	b, okB = ratio(second, func(w Week) float64 { return float64(w.Rework) })
	r.Trend.Rework = direction(a, b, okA, okB, false)
	a, okA = medianOf(first, func(w Week) time.Duration { return w.LeadMedian })
	b, okB = medianOf(second, func(w Week) time.Duration { return w.LeadMedian })
	r.Trend.LeadTime = direction(a, b, okA, okB, false)
	a, okA = medianOf(first, func(w Week) time.Duration { return w.RecoveryMedian })
	b, okB = medianOf(second, func(w Week) time.Duration { return w.RecoveryMedian })
	r.Trend.Recovery = direction(a, b, okA, okB, false)
}

func direction(before, after float64, okBefore, okAfter, higherIsBetter bool) Direction {
	if !okBefore || !okAfter {
		return Unknown
	}
	if before == after || math.Abs(after-before) <= 0.1*math.Max(math.Abs(before), math.Abs(after)) {
		return Steady
	}
	if (after > before) == higherIsBetter {
		return Improving
	}
	return Worsening
}
