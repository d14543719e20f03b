// Package canary judges a canary deployment: it reads the canary's traffic
// from a source (its own open-loop probe, Prometheus or Datadog) and tests
// the error rate and latency sequentially, stopping as soon as the evidence
// allows a verdict at the stated error rates.
package canary

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/deploymarker"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/human"
	"github.com/pmguard/pmguard/internal/metricsource"
	"github.com/pmguard/pmguard/internal/probe"
	"github.com/pmguard/pmguard/internal/report"
	"github.com/pmguard/pmguard/internal/verdict"
)

// Result is a run's verdict, as written to --json.
type Result struct {
	Verdict      State     `json:"verdict"`
	Pass         bool      `json:"pass"` // the exit status, after on_inconclusive and mode
	Mode         string    `json:"mode"`
	Source       string    `json:"source"`
	Target       string    `json:"target"`
	Started      time.Time `json:"started"`
	ElapsedS     float64   `json:"elapsed_s"`
	MaxDurationS float64   `json:"max_duration_s"`
	Alpha        float64   `json:"alpha"`
	Beta         float64   `json:"beta"`
	OnInconcl    string    `json:"on_inconclusive"`
	Percentage   int       `json:"percentage,omitempty"`
	SourceErrors int       `json:"source_errors"`
	// Held: inconclusive with on_inconclusive hold; the decision is left to
	// an approval job.
	Held bool `json:"held,omitempty"`
	// Interrupted: the run was cut short (SIGTERM, a cancelled job) before
	// it could decide; on_inconclusive played no part (exit 3).
	Interrupted bool `json:"interrupted,omitempty"`
	// Steps: with steps, every step judged, and the step and weight that
	// decided (the failing one, or the last).
	StepsPlanned  []int        `json:"steps_planned,omitempty"`
	Steps         []StepResult `json:"steps,omitempty"`
	Step          int          `json:"step,omitempty"`
	Weight        int          `json:"weight,omitempty"`
	RolledBack    bool         `json:"rolled_back,omitempty"` // the weight was set back to 0
	RollbackError string       `json:"rollback_error,omitempty"`
	Evidence
}

// Run runs the analysis. It returns nil on pass, a verdict of fail on fail
// (or inconclusive with on_inconclusive fail), and any other error when the
// source could not be read at all.
func Run(ctx context.Context, o *Options) error {
	o.runCtx = ctx
	return o.d.Redactor.Error(o.run(ctx))
}

func (o *Options) run(ctx context.Context) error {
	clk := o.clock()
	out := &redactWriter{w: o.d.Stdout, redact: o.d.Redactor.Redact}
	if o.Promotion != "" {
		return o.recordPromotion(ctx, out)
	}
	if o.CheckOnly {
		// New has checked every setting; nothing is sent, run or written.
		fmt.Fprintf(out, "canary: the settings are valid: %s (%s) - %s\n", o.Target, o.describeSource(), o.describeCriteria())
		if len(o.Steps) > 0 {
			fmt.Fprintf(out, "canary: %s, %s, each set by: %s\n", human.Count(len(o.Steps), "step"), o.Steps, o.d.Redactor.Text(o.SetWeight))
		}
		for _, p := range o.pending {
			fmt.Fprintf(out, "canary: note: %s; the analysis checks it again when it starts (deploy_canary may provide it)\n", p)
		}
		return nil
	}
	start := clk.Now()
	res := &Result{Mode: o.Mode, Source: o.Source, Target: o.Target, Started: start.UTC(), MaxDurationS: o.MaxDuration.Seconds(),
		Alpha: o.Criteria.Alpha, Beta: o.Criteria.Beta, OnInconcl: o.OnInconclusive, Percentage: int(o.Percentage), StepsPlanned: o.Steps}
	marker := o.markers(out)

	fmt.Fprintf(out, "canary: judging %s (%s) - %s\n", o.Target, o.describeSource(), o.describeCriteria())
	if o.Mode == "shadow" {
		fmt.Fprintf(out, "canary: shadow mode: the verdict is reported and recorded, never enforced (the step passes, nothing is rolled back)\n")
	}
	o.event(events.CanaryStarted, o.startFigures(), nil, "canary analysis started: "+o.describeCriteria())
	if o.Mode != "shadow" {
		marker.Plan(ctx)
	}

	var err error
	if len(o.Steps) == 0 {
		marker.Running(ctx)
		res.Evidence, err = o.analyse(ctx, clk, o.Criteria, out)
	} else {
		err = o.runSteps(ctx, clk, res, out, marker)
	}
	res.SourceErrors = o.sourceErrors
	res.ElapsedS = round3(clk.Now().Sub(start).Seconds())
	if err != nil {
		res.Verdict = Inconclusive
		res.Interrupted = ctx.Err() != nil
		if res.Check == checkSetWeight {
			// The rollout stopped because set_weight failed: the deploy
			// failed, whatever the steps judged before said.
			res.Verdict = Failed
		}
		if len(o.Steps) == 0 {
			res.Reason = "could not run: " + res.Reason
		}
		res.Reason = o.d.Redactor.Redact(res.Reason)
		if o.Mode == "shadow" && len(o.Steps) == 0 {
			// Shadow mode never fails the job: an analysis that could not
			// run is reported like any other verdict.
			fmt.Fprintf(out, "canary: %s [shadow mode: not enforced]\n", res.Reason)
			res.Pass = true
			o.verdictEvent(res, marker)
			return writeReports(o.Reports, res)
		}
		if len(res.Steps) > 0 {
			// The steps judged before, and whether the weight went back to
			// 0, are what whoever picks up the failed job needs first.
			printReport(out, res)
		}
		marker.Failed(ctx, o.markerReason(res))
		o.verdictEvent(res, marker)
		if werr := writeReports(o.Reports, res); werr != nil {
			fmt.Fprintf(out, "canary: %v\n", werr)
		}
		return err
	}
	res.Verdict = res.State
	switch {
	case o.Mode == "shadow":
		res.Pass = true
	case res.Verdict == Passed:
		res.Pass = true
	case res.Verdict == Inconclusive && o.OnInconclusive == "pass":
		res.Pass = true
	case res.Verdict == Inconclusive && o.OnInconclusive == "hold":
		res.Pass, res.Held = true, true
	}
	res.Reason = o.d.Redactor.Redact(res.Reason)

	printReport(out, res)
	switch {
	case res.Held:
		fmt.Fprintf(out, "canary: held: the decision is left to the approval job; the deploy marker stays RUNNING\n")
	case res.Pass && o.Mode != "shadow" && o.DeployMarkerSuccess == "promotion":
		if marker != nil {
			fmt.Fprintf(out, "canary: passed; the deploy marker stays %s until the promotion is recorded\n", marker.Status())
		}
	case res.Pass && o.Mode != "shadow":
		marker.Succeeded(ctx)
	case !res.Pass:
		marker.Failed(ctx, o.markerReason(res))
	}
	// The verdict event says what the marker was left at: the promotion
	// step reads it.
	o.verdictEvent(res, marker)
	if err := writeReports(o.Reports, res); err != nil {
		return err
	}
	if res.Pass {
		return nil
	}
	return verdict.Failf("%s", headline(res))
}

// analyse judges the canary once, at its current weight, with criteria c:
// the whole analysis without steps, one step with them. An error means the
// source could not be started; the evidence's Reason then says why.
func (o *Options) analyse(ctx context.Context, clk Clock, c Criteria, out io.Writer) (Evidence, error) {
	run := ctx
	j := NewJudge(c)
	// The start-up estimate is a simulation that takes a while for a large
	// min_samples on a busy machine: max_duration starts after it.
	o.notePassCost(out, j)
	start := clk.Now()
	maxDur := o.MaxDuration.Duration
	deadline := start.Add(maxDur)
	// A backstop on the wall clock: whatever a source does, nothing runs
	// past max_duration plus one interval, or for the probe plus one
	// request's timeout (a request in flight at max_duration is waited for
	// and judged).
	grace := o.Interval.Duration
	if o.Source == "probe" || grace <= 0 {
		grace = o.Timeout.Duration + time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, maxDur+grace)
	defer cancel()

	src := o.buildSource(clk, deadline, out)
	if err := src.Start(ctx); err != nil {
		src.Close()
		ev := j.Evidence()
		ev.State = Inconclusive
		ev.Reason = o.d.Redactor.Redact(err.Error())
		return ev, err
	}
	defer src.Close()
	o.judge(ctx, clk, src, j, start, deadline, out)
	ev := j.Evidence()
	if err := run.Err(); err != nil && ev.State != Passed && ev.State != Failed {
		// Interrupted (SIGTERM, a cancelled job): the analysis did not run
		// its course, so it has no verdict that on_inconclusive may pass,
		// hold or step on from; the run could not finish (exit 3).
		return ev, fmt.Errorf("the analysis was interrupted: %w", err)
	}
	return ev, nil
}

// markers returns the deploy-marker writer (nil: none).
func (o *Options) markers(out io.Writer) *deploymarker.Writer {
	return deploymarker.ForVerb(o.Settings.Settings, o.d, out, o.RunCLI)
}

// markerReason is the failure reason on the deploy marker: the verdict, what
// was rolled back, and where to read more.
func (o *Options) markerReason(r *Result) string {
	s := headline(r)
	switch {
	case r.RolledBack:
		s += "; rolled back: weight set to 0 by set_weight"
	case r.RollbackError != "":
		s += "; rollback through set_weight failed: " + r.RollbackError
	}
	if u := o.d.Job.BuildURL; u != "" {
		s += "; rollback and figures: " + u
	}
	return s
}

func (o *Options) clock() Clock {
	if o.Clock == nil {
		return RealClock{}
	}
	return o.Clock
}

// judge feeds the source's batches to j until it decides, the deadline
// comes or the source keeps failing.
func (o *Options) judge(ctx context.Context, clk Clock, src Source, j *Judge, start, deadline time.Time, out io.Writer) {
	limit := int(o.SourceErrorLimit)
	lastProgress := start
	consecutive := 0
	for j.State() == Running {
		now := clk.Now()
		if !now.Before(deadline) {
			if f, ok := src.(interface {
				Finished(context.Context) Batch
			}); ok {
				j.Add(f.Finished(ctx))
			}
			j.Finish(fmt.Sprintf("max_duration %s reached", o.MaxDuration))
			return
		}
		b, err := src.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				j.Finish(o.stopReason(ctx))
				return
			}
			consecutive++
			o.sourceErrors++
			msg := o.d.Redactor.Redact(err.Error())
			fmt.Fprintf(out, "canary: reading %s failed (%d of %d in a row): %s\n", o.Source, consecutive, limit, msg)
			switch {
			case metricsource.Permanent(err):
				// Refused credentials or a refused query: asking again
				// until the limit would only delay the verdict.
				j.FailNow("source", fmt.Sprintf("the %s source refused the read and asking again cannot help: %s", o.Source, msg))
			case consecutive >= limit:
				j.FailNow("source", fmt.Sprintf("%d consecutive failed reads of the %s source; the last: %s", consecutive, o.Source, msg))
			}
			continue
		}
		consecutive = 0
		for _, ob := range []*Obs{&b.Canary, b.Baseline} {
			if ob != nil && ob.Note != "" {
				fmt.Fprintf(out, "canary: %s\n", o.d.Redactor.Redact(ob.Note))
			}
		}
		j.Add(b)
		now = clk.Now()
		if j.State() == Running && (now.Sub(lastProgress) >= o.progressEvery() || o.Source != "probe") {
			lastProgress = now
			fmt.Fprintf(out, "canary %6.1fs  %s  [%s]\n", now.Sub(start).Seconds(), j.Evidence().Summary(), j.progressLine())
		}
	}
}

func (o *Options) progressEvery() time.Duration {
	if o.ProgressEvery <= 0 {
		return 5 * time.Second
	}
	return o.ProgressEvery
}

func (o *Options) stopReason(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("max_duration %s reached", o.MaxDuration)
	}
	return "interrupted"
}

func (o *Options) buildSource(clk Clock, deadline time.Time, out io.Writer) Source {
	if o.Source == "probe" {
		pr := probe.New(probe.Config{
			Method: o.Method, Header: o.Header, UserAgent: "pmguard/" + o.d.Version,
			Timeout: o.Timeout.Duration, TLS: o.TLS, Conns: int(o.Concurrency), Transport: o.d.Transport,
			// The canary's own status is what is judged, not where it points.
			NoFollow: true,
		})
		return NewProbe(ProbeOptions{
			Prober: pr, URL: o.URL.String(), BaselineURL: o.baselineURL(), Expect: o.ExpectStatus,
			Rate: float64(o.Rate), Concurrency: int(o.Concurrency),
		})
	}
	return NewMetricSource(MetricOptions{
		Metrics: o.Metrics, Name: o.metricsName, CanarySelector: o.CanarySelector,
		BaselineSelector: o.BaselineSelector, Quantile: o.Criteria.Quantile, Threshold: o.Criteria.Latency,
		NeedLatency: o.Criteria.Latency > 0 || o.Criteria.Baseline,
		Interval:    o.Interval.Duration, Deadline: deadline,
		Clock: o.aliveClock(clk, out, "waiting for the next "+o.Source+" read"),
	}, func(s string) { fmt.Fprintf(out, "canary: %s\n", s) })
}

func (o *Options) baselineURL() string {
	if !urlSet(o.BaselineURL) {
		return ""
	}
	return o.BaselineURL.String()
}

func (o *Options) describeSource() string {
	if o.Source == "probe" {
		s := fmt.Sprintf("probe: %s/s, up to %d in flight, timeout %s, expecting %s", trimFloat(float64(o.Rate)), o.Concurrency, o.Timeout, o.ExpectStatus)
		if b := o.baselineURL(); b != "" {
			s += ", baseline " + o.d.Redactor.URL(b)
		}
		return s
	}
	s := fmt.Sprintf("%s, every %s", o.metricsName, o.Interval)
	if o.BaselineSelector != "" {
		s += ", baseline " + o.BaselineSelector
	}
	return s
}

func (o *Options) describeCriteria() string {
	c := o.Criteria
	s := fmt.Sprintf("fail at error rate %s, pass near %s (alpha %s, beta %s)", human.Percent(c.ErrorThreshold), human.Percent(c.healthy()), human.Percent(c.Alpha), human.Percent(c.Beta))
	if c.Latency > 0 {
		pass, fail := c.latencyShares()
		s += fmt.Sprintf(", p%s under %s (pass at most %s slower, fail at %s)", percentileName(c.Quantile), c.Latency, human.Percent(pass), human.Percent(fail))
	}
	if c.Baseline {
		s += fmt.Sprintf(", no worse than the baseline by %s", human.Percent(c.Margin))
	}
	return s + fmt.Sprintf(", at most %s", o.MaxDuration)
}

func headline(r *Result) string {
	word := map[State]string{Passed: "PASSED", Failed: "FAILED", Inconclusive: "INCONCLUSIVE"}[r.Verdict]
	if r.Interrupted {
		word = "INTERRUPTED"
	}
	s := fmt.Sprintf("canary %s after %.1fs: %s", word, r.ElapsedS, r.Reason)
	if r.Verdict == Inconclusive && !r.Interrupted {
		s += fmt.Sprintf(" (on_inconclusive: %s)", r.OnInconcl)
	}
	if r.Mode == "shadow" && r.Verdict != Passed && r.Check != checkSetWeight {
		s += " [shadow mode: not enforced]"
	}
	return s
}

func printReport(w io.Writer, r *Result) {
	fmt.Fprintf(w, "\n%s\n", headline(r))
	if r.Check != checkSetWeight {
		// A step stopped by set_weight was never judged: it has no figures.
		printFigures(w, r)
	}
	if len(r.Steps) > 0 {
		fmt.Fprintf(w, "  steps:\n")
		for _, s := range r.Steps {
			fmt.Fprintf(w, "    %-14s %-12s %.1fs  %s\n", s.name(), strings.ToUpper(string(s.State)), s.ElapsedS, s.summary())
		}
		switch {
		case r.RolledBack:
			fmt.Fprintf(w, "  rolled back: weight set to 0 by set_weight\n")
		case r.RollbackError != "":
			fmt.Fprintf(w, "  rollback through set_weight failed: %s\n", r.RollbackError)
		}
		fmt.Fprintf(w, "  elapsed:     %.1fs (max %s per step)\n", r.ElapsedS, time.Duration(r.MaxDurationS*float64(time.Second)))
	} else {
		fmt.Fprintf(w, "  elapsed:     %.1fs of max %s\n", r.ElapsedS, time.Duration(r.MaxDurationS*float64(time.Second)))
	}
	if r.SourceErrors > 0 {
		fmt.Fprintf(w, "  source read failures: %d\n", r.SourceErrors)
	}
}

// printFigures prints the deciding evidence's figures.
func printFigures(w io.Writer, r *Result) {
	fmt.Fprintf(w, "  requests:    %s, errors %s", count(r.Samples), count(r.Errors))
	if k := r.Evidence.Kinds(); k != "" {
		fmt.Fprintf(w, " (%s)", k)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  error rate:  %s (95%% CI %s-%s); threshold %s, healthy %s\n", human.Percent(r.ErrorRate), human.Percent(r.ErrorRateLo), human.Percent(r.ErrorRateHi), human.Percent(r.Threshold), human.Percent(r.Healthy))
	lat := "not measured"
	if r.LatencyMS != nil {
		lat = human.Millis(*r.LatencyMS) + r.latencyCI("; too few requests for an upper bound")
	}
	fmt.Fprintf(w, "  %-12s %s", r.Percentile+":", lat)
	if r.LatencyThreshold > 0 {
		fmt.Fprintf(w, "; threshold %s", human.Millis(r.LatencyThreshold))
	}
	fmt.Fprintln(w)
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "  baseline:    %s requests, error rate %s", count(b.Samples), human.Percent(b.ErrorRate))
		if b.LatencyMS != nil {
			fmt.Fprintf(w, ", %s %s", r.Percentile, human.Millis(*b.LatencyMS))
		}
		fmt.Fprintf(w, "; margin %s\n", human.Percent(b.Margin))
	}
}

func (o *Options) startFigures() events.Canary {
	c := o.Criteria
	f := events.Canary{
		Source: o.Source, Threshold: c.ErrorThreshold, HealthyErrorRate: c.healthy(),
		Alpha: c.Alpha, Beta: c.Beta, MaxDurationS: o.MaxDuration.Seconds(),
		Percentile: "p" + percentileName(c.Quantile), Percentage: float64(o.Percentage),
		LatencyThresholdMS: msf(c.Latency), StepsPlanned: len(o.Steps), Mode: o.Mode,
	}
	if o.Source == "probe" {
		f.Rate = float64(o.Rate)
	} else {
		f.IntervalS = o.Interval.Seconds()
	}
	return f
}

// verdictEvent records the verdict, and what the deploy marker m was left
// at; latency figures are keyed by the percentile ("p95_ms",
// "baseline_p95_ms").
func (o *Options) verdictEvent(r *Result, m *deploymarker.Writer) {
	f, extra := o.figures(&r.Evidence)
	if st := m.Status(); st != "" {
		f.DeployName, f.DeployMarker = m.Name(), st
	}
	f.Verdict, f.ElapsedS, f.Reason = string(r.Verdict), r.ElapsedS, r.Reason
	f.Step, f.Weight, f.StepsPlanned = r.Step, float64(r.Weight), len(o.Steps)
	f.Mode, f.RolledBack, f.RollbackError, f.Held, f.Passed = o.Mode, r.RolledBack, r.RollbackError, r.Held, r.Pass
	name := map[State]string{Passed: events.CanaryPassed, Failed: events.CanaryFailed, Inconclusive: events.CanaryInconclusive}[r.Verdict]
	o.event(name, f, extra, headline(r))
}

// figures are an analysis's figures for the event log.
func (o *Options) figures(r *Evidence) (events.Canary, map[string]float64) {
	f := events.Canary{
		Verdict: string(r.State), ErrorRate: round6(r.ErrorRate),
		ErrorRateCILow: round6(r.ErrorRateLo), ErrorRateCIHigh: round6(r.ErrorRateHi),
		Threshold: r.Threshold, Samples: int(r.Samples), Errors: int(r.Errors),
		Reason: r.Reason, Source: o.Source, DecidedBy: r.Check, LatencyThresholdMS: r.LatencyThreshold,
	}
	if r.LatencyThreshold > 0 {
		f.LatencyQuantile = r.Percentile // which pXX_ms the threshold is for
	}
	extra := map[string]float64{}
	if r.LatencyMS != nil {
		extra[r.Percentile+"_ms"] = *r.LatencyMS
	}
	if b := r.Baseline; b != nil {
		f.BaselineErrorRate, f.BaselineSamples = round6(b.ErrorRate), int(b.Samples)
		if b.LatencyMS != nil {
			extra["baseline_"+r.Percentile+"_ms"] = *b.LatencyMS
		}
	}
	return f, extra
}

// lateEventWait bounds the wait for the event log's lock after the run's
// context ended.
const lateEventWait = 5 * time.Second

// event appends a verdict's or the start's event to the event log.
func (o *Options) event(name string, figures events.Canary, extra map[string]float64, msg string) {
	figures.Reason = o.d.Redactor.Redact(figures.Reason)
	o.appendEvent(name, figures, extra, msg)
}

// appendEvent appends to the event log; a log that cannot be written is
// reported but does not change the verdict.
func (o *Options) appendEvent(name string, figures any, extra map[string]float64, msg string) {
	e := events.Event{Verb: "canary", Event: name, Target: o.Target, Message: o.d.Redactor.Redact(msg)}
	e.SetFigures(figures)
	for k, v := range extra {
		e.Figures[k] = v
	}
	// The run's context bounds the wait for the log's lock; once it has
	// ended (an interruption, whose rollback is still recorded), a few
	// seconds more.
	ctx := o.runCtx
	if ctx == nil {
		ctx = context.Background()
	}
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), lateEventWait)
		defer cancel()
	}
	if err := o.events.Append(ctx, e); err != nil {
		fmt.Fprintf(o.d.Stdout, "canary: could not write the event log: %v\n", err)
	}
}

func writeReports(r config.Reports, res *Result) error {
	if err := report.WriteJSON(r.JSON, res); err != nil {
		return err
	}
	if r.JUnit == "" {
		return nil
	}
	if len(res.Steps) > 0 {
		return report.WriteJUnit(r.JUnit, stepSuite(res))
	}
	el := time.Duration(res.ElapsedS * float64(time.Second))
	out := res.Summary()
	mk := func(name, check string) report.Case {
		c := report.Case{Name: name, ClassName: "canary." + res.Source, Duration: el, Output: out}
		switch {
		case res.Verdict == Failed && (res.Check == check || check == "error rate" && res.Check == "source"):
			c.Failure = headline(res)
		case res.Verdict == Inconclusive && check == "error rate":
			c.Failure = headline(res)
		}
		// A verdict that does not fail the job (shadow mode, on_inconclusive
		// pass or hold) is not a failed test either.
		if c.Failure != "" && res.Pass {
			c.Skipped, c.Failure = c.Failure, ""
		}
		return c
	}
	cases := []report.Case{mk(fmt.Sprintf("error rate below %s", human.Percent(res.Threshold)), "error rate")}
	if res.LatencyThreshold > 0 {
		cases = append(cases, mk(fmt.Sprintf("%s latency below %s", res.Percentile, human.Millis(res.LatencyThreshold)), "latency"))
	}
	if res.Baseline != nil {
		cases = append(cases, mk("error rate no worse than baseline", "baseline error rate"), mk(res.Percentile+" latency no worse than baseline", "baseline latency"))
	}
	return report.WriteJUnit(r.JUnit, report.Suite{Name: "pmguard canary " + res.Target, Duration: el, Cases: cases})
}

// redactWriter removes secrets from everything written to the user.
type redactWriter struct {
	w      io.Writer
	redact func(string) string
}

func (r *redactWriter) Write(b []byte) (int, error) {
	if r.w == nil {
		return len(b), nil
	}
	if _, err := io.WriteString(r.w, r.redact(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}

func trimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.3f", f), "0"), ".")
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }
func round6(f float64) float64 { return float64(int64(f*1e6+0.5)) / 1e6 }
