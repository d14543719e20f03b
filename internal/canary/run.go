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
	"net/http"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/report"
	"github.com/pmguard/pmguard/internal/verdict"
)

// Options are a run's inputs and dependencies.
type Options struct {
	Plan    *Plan
	Reports config.Reports
	// Source overrides the one the plan names (tests); nil builds it.
	Source Source
	// HTTP is the probe's client; nil builds one from the plan.
	HTTP      *http.Client
	UserAgent string
	Out       io.Writer // progress and the final report
	Events    *events.Log
	Redact    func(string) string
	// Clock drives the analysis (metric intervals, max_duration); nil is
	// the wall clock. The probe always sends on the wall clock.
	Clock Clock
	// ProgressEvery is the time between progress lines; 0 is 5s.
	ProgressEvery time.Duration
}

// Result is a run's verdict, as written to --json.
type Result struct {
	Verdict      State     `json:"verdict"`
	Pass         bool      `json:"pass"` // the exit status, after on_inconclusive
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
	Evidence
}

// Run runs the analysis. It returns nil on pass, an exitcode fail error on
// fail (or inconclusive with on_inconclusive fail), and any other error when
// the source could not be read at all.
func Run(ctx context.Context, o Options) error {
	p := o.Plan
	if o.Clock == nil {
		o.Clock = RealClock{}
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = 5 * time.Second
	}
	out := &redactWriter{w: o.Out, redact: o.Redact}
	start := o.Clock.Now()
	deadline := start.Add(p.MaxDuration)
	// A backstop on the wall clock: whatever a source does, nothing runs
	// past max_duration plus one interval.
	grace := p.Interval
	if p.Source == "probe" || grace <= 0 {
		grace = time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, p.MaxDuration+grace)
	defer cancel()

	src := o.Source
	if src == nil {
		var err error
		if src, err = buildSource(p, o, deadline, out); err != nil {
			return err
		}
	}
	res := &Result{Source: p.Source, Target: p.Target, Started: start.UTC(), MaxDurationS: p.MaxDuration.Seconds(),
		Alpha: p.Criteria.Alpha, Beta: p.Criteria.Beta, OnInconcl: p.OnInconclusive, Percentage: p.Percentage}

	fmt.Fprintf(out, "canary: judging %s (%s) - %s\n", p.Target, describeSource(p), describeCriteria(p))
	appendEvent(o, "canary_started", p, startFigures(p), "canary analysis started: "+describeCriteria(p))

	j := NewJudge(p.Criteria)
	if p.Source == "probe" {
		// Say up front what a healthy canary costs, so a max_duration too
		// short for the rate is noticed before it ends in inconclusive.
		need := j.ExpectedToPass()
		fmt.Fprintf(out, "canary: a canary at the healthy %s passes after about %.0f requests on average (%.0fs at %s/s)\n", pct(p.Criteria.healthy()), need, need/p.Rate, trimFloat(p.Rate))
		// The time to pass has a long tail: about 1% of healthy canaries
		// need more than 3.5 times the average (simulated).
		if allowed := p.Rate * p.MaxDuration.Seconds(); allowed < 3.5*need {
			fmt.Fprintf(out, "canary: note: max_duration %s allows %.0f requests at this rate; more than 1%% of healthy canaries will still be undecided then (inconclusive): allow about %.0f (raise rate or max_duration)\n", p.MaxDuration, allowed, 3.5*need)
		}
	}
	if err := src.Start(ctx); err != nil {
		src.Close()
		res.Verdict = Inconclusive
		res.Evidence = j.Evidence()
		res.Reason = "could not run: " + o.Redact(err.Error())
		res.ElapsedS = o.Clock.Now().Sub(start).Seconds()
		appendEvent(o, "canary_inconclusive", p, verdictFigures(p, res), res.Reason)
		return err
	}
	defer src.Close()

	lastProgress := start
	consecutive := 0
	for j.State() == Running {
		now := o.Clock.Now()
		if !now.Before(deadline) {
			j.Finish(fmt.Sprintf("max_duration %s reached", p.MaxDuration))
			break
		}
		b, err := src.Next(ctx)
		if err != nil {
			if ctx.Err() != nil {
				j.Finish(stopReason(ctx, p))
				break
			}
			consecutive++
			res.SourceErrors++
			fmt.Fprintf(out, "canary: reading %s failed (%d of %d in a row): %s\n", p.Source, consecutive, p.ErrorLimit, o.Redact(err.Error()))
			if consecutive >= p.ErrorLimit {
				j.FailNow("source", fmt.Sprintf("%d consecutive failed reads of the %s source; the last: %s", consecutive, p.Source, o.Redact(err.Error())))
			}
			continue
		}
		consecutive = 0
		for _, ob := range []*Obs{&b.Canary, b.Baseline} {
			if ob != nil && ob.Note != "" {
				fmt.Fprintf(out, "canary: %s\n", o.Redact(ob.Note))
			}
		}
		j.Add(b)
		now = o.Clock.Now()
		if j.State() == Running && (now.Sub(lastProgress) >= o.ProgressEvery || p.Source != "probe") {
			lastProgress = now
			fmt.Fprintf(out, "canary %6.1fs  %s  [%s]\n", now.Sub(start).Seconds(), j.Evidence().Summary(), j.progressLine())
		}
	}

	res.Evidence = j.Evidence()
	res.Verdict = j.State()
	res.ElapsedS = round3(o.Clock.Now().Sub(start).Seconds())
	res.Pass = res.Verdict == Passed || res.Verdict == Inconclusive && p.OnInconclusive == "pass"
	res.Reason = o.Redact(res.Reason)

	printReport(out, res)
	name := map[State]string{Passed: "canary_passed", Failed: "canary_failed", Inconclusive: "canary_inconclusive"}[res.Verdict]
	appendEvent(o, name, p, verdictFigures(p, res), headline(res))
	if err := writeReports(o.Reports, res); err != nil {
		return err
	}
	if res.Pass {
		return nil
	}
	return verdict.Failf("%s", headline(res))
}

func stopReason(ctx context.Context, p *Plan) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("max_duration %s reached", p.MaxDuration)
	}
	return "interrupted"
}

func buildSource(p *Plan, o Options, deadline time.Time, out io.Writer) (Source, error) {
	switch p.Source {
	case "probe":
		client := o.HTTP
		if client == nil {
			var err error
			if client, err = ProbeClient(p); err != nil {
				return nil, config.Invalid(err)
			}
		}
		return NewProbe(ProbeOptions{
			Client: client, UserAgent: o.UserAgent, URL: p.URL, BaselineURL: p.BaselineURL,
			Method: p.Method, Header: p.Header, Expect: p.Expect, Rate: p.Rate,
			Concurrency: p.Concurrency, Timeout: p.Timeout,
		}), nil
	default:
		return NewMetricSource(MetricOptions{
			Metrics: p.Metrics, Name: p.MetricsName, CanarySelector: p.CanarySelector,
			BaselineSelector: p.BaselineSelector, Quantile: p.Criteria.Quantile,
			NeedLatency: p.Criteria.Latency > 0 || p.Criteria.Baseline,
			Interval:    p.Interval, Deadline: deadline, Clock: o.Clock,
		}, func(s string) { fmt.Fprintf(out, "canary: %s\n", s) }), nil
	}
}

// ProbeClient builds the probe's HTTP client on pmguard's transport. It
// neither retries (a retry would hide an error from the judge) nor follows
// redirects (the canary's own status is what is judged).
func ProbeClient(p *Plan) (*http.Client, error) {
	conf, err := httpx.TLSConfig(p.CAFile, "", "", p.Insecure)
	if err != nil {
		return nil, fmt.Errorf("ca_file: %w", err)
	}
	tr := httpx.NewTransport(conf)
	// Enough idle connections for every slot, so a busy probe does not
	// open a new connection per request.
	if tr.MaxIdleConnsPerHost < p.Concurrency {
		tr.MaxIdleConnsPerHost = p.Concurrency
		tr.MaxIdleConns = 2 * p.Concurrency
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

func describeSource(p *Plan) string {
	switch p.Source {
	case "probe":
		s := fmt.Sprintf("probe: %s/s, up to %d in flight, timeout %s, expecting %s", trimFloat(p.Rate), p.Concurrency, p.Timeout, p.Expect)
		if p.BaselineURL != "" {
			s += ", baseline " + httpx.RedactURL(p.BaselineURL)
		}
		return s
	default:
		s := fmt.Sprintf("%s, every %s", p.MetricsName, p.Interval)
		if p.BaselineSelector != "" {
			s += ", baseline " + p.BaselineSelector
		}
		return s
	}
}

func describeCriteria(p *Plan) string {
	c := p.Criteria
	s := fmt.Sprintf("fail at error rate %s, pass near %s (alpha %s, beta %s)", pct(c.ErrorThreshold), pct(c.healthy()), pct(c.Alpha), pct(c.Beta))
	if c.Latency > 0 {
		s += fmt.Sprintf(", p%s under %s", percentileName(c.Quantile), c.Latency)
	}
	if c.Baseline {
		s += fmt.Sprintf(", no worse than the baseline by %s", pct(c.Margin))
	}
	return s + fmt.Sprintf(", at most %s", p.MaxDuration)
}

func headline(r *Result) string {
	word := map[State]string{Passed: "PASSED", Failed: "FAILED", Inconclusive: "INCONCLUSIVE"}[r.Verdict]
	s := fmt.Sprintf("canary %s after %.1fs: %s", word, r.ElapsedS, r.Reason)
	if r.Verdict == Inconclusive {
		s += fmt.Sprintf(" (on_inconclusive: %s)", r.OnInconcl)
	}
	return s
}

func printReport(w io.Writer, r *Result) {
	fmt.Fprintf(w, "\n%s\n", headline(r))
	fmt.Fprintf(w, "  requests:    %s, errors %s", count(r.Samples), count(r.Errors))
	if k := r.Evidence.Kinds(); k != "" {
		fmt.Fprintf(w, " (%s)", k)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  error rate:  %s (95%% CI %s-%s); threshold %s, healthy %s\n", pct(r.ErrorRate), pct(r.ErrorRateLo), pct(r.ErrorRateHi), pct(r.Threshold), pct(r.Healthy))
	lat := "not measured"
	if r.LatencyMS != nil {
		lat = fmtMS(*r.LatencyMS)
		if r.LatencyLoMS != nil && r.LatencyHiMS != nil {
			lat += fmt.Sprintf(" (95%% CI %s-%s)", fmtMS(*r.LatencyLoMS), fmtMS(*r.LatencyHiMS))
		} else if r.LatencyLoMS != nil {
			lat += fmt.Sprintf(" (95%% CI from %s; too few requests for an upper bound)", fmtMS(*r.LatencyLoMS))
		}
	}
	fmt.Fprintf(w, "  %-12s %s", r.Percentile+":", lat)
	if r.LatencyThreshold > 0 {
		fmt.Fprintf(w, "; threshold %s", fmtMS(r.LatencyThreshold))
	}
	fmt.Fprintln(w)
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "  baseline:    %s requests, error rate %s", count(b.Samples), pct(b.ErrorRate))
		if b.LatencyMS != nil {
			fmt.Fprintf(w, ", %s %s", r.Percentile, fmtMS(*b.LatencyMS))
		}
		fmt.Fprintf(w, "; margin %s\n", pct(b.Margin))
	}
	fmt.Fprintf(w, "  elapsed:     %.1fs of max %s\n", r.ElapsedS, time.Duration(r.MaxDurationS*float64(time.Second)))
	if r.SourceErrors > 0 {
		fmt.Fprintf(w, "  source read failures: %d\n", r.SourceErrors)
	}
}

func startFigures(p *Plan) map[string]any {
	c := p.Criteria
	f := map[string]any{
		"source": p.Source, "threshold": c.ErrorThreshold, "healthy_error_rate": c.healthy(),
		"alpha": c.Alpha, "beta": c.Beta, "max_duration_s": p.MaxDuration.Seconds(),
		"percentile": "p" + percentileName(c.Quantile),
	}
	if c.Latency > 0 {
		f["latency_threshold_ms"] = msf(c.Latency)
	}
	if p.Percentage > 0 {
		f["percentage"] = p.Percentage
	}
	if p.Source == "probe" {
		f["rate"] = p.Rate
	} else {
		f["interval_s"] = p.Interval.Seconds()
	}
	return f
}

func verdictFigures(p *Plan, r *Result) map[string]any {
	f := map[string]any{
		"verdict":            string(r.Verdict),
		"error_rate":         round6(r.ErrorRate),
		"error_rate_ci_low":  round6(r.ErrorRateLo),
		"error_rate_ci_high": round6(r.ErrorRateHi),
		"threshold":          r.Threshold,
		"samples":            r.Samples,
		"errors":             r.Errors,
		"elapsed_s":          r.ElapsedS,
		"reason":             r.Reason,
		"source":             p.Source,
	}
	if r.Check != "" {
		f["decided_by"] = r.Check
	}
	if r.LatencyMS != nil {
		f[r.Percentile+"_ms"] = *r.LatencyMS
	}
	if r.LatencyThreshold > 0 {
		f["latency_threshold_ms"] = r.LatencyThreshold
		f["latency_quantile"] = r.Percentile // which pXX_ms the threshold is for
	}
	if r.Baseline != nil {
		f["baseline_error_rate"] = round6(r.Baseline.ErrorRate)
		f["baseline_samples"] = r.Baseline.Samples
		if r.Baseline.LatencyMS != nil {
			f["baseline_"+r.Percentile+"_ms"] = *r.Baseline.LatencyMS
		}
	}
	return f
}

func appendEvent(o Options, name string, p *Plan, figures map[string]any, msg string) {
	if o.Events == nil {
		return
	}
	if r, ok := figures["reason"].(string); ok {
		figures["reason"] = o.Redact(r)
	}
	err := o.Events.Append(events.Event{Verb: "canary", Event: name, Target: p.Target, Figures: figures, Message: o.Redact(msg)})
	if err != nil && o.Out != nil {
		fmt.Fprintf(o.Out, "canary: could not write the event log: %v\n", err)
	}
}

func writeReports(r config.Reports, res *Result) error {
	if err := report.WriteJSON(r.JSON, res); err != nil {
		return err
	}
	if r.JUnit == "" {
		return nil
	}
	el := time.Duration(res.ElapsedS * float64(time.Second))
	out := res.Summary()
	mk := func(name, check string) report.Case {
		c := report.Case{Name: name, ClassName: "canary." + res.Source, Duration: el, Output: out}
		switch {
		case res.Verdict == Failed && (res.Check == check || check == "error rate" && res.Check == "source"):
			c.Failure = headline(res)
		case res.Verdict == Inconclusive && check == "error rate":
			if res.Pass {
				c.Skipped = headline(res)
			} else {
				c.Failure = headline(res)
			}
		}
		return c
	}
	cases := []report.Case{mk(fmt.Sprintf("error rate below %s", pct(res.Threshold)), "error rate")}
	if res.LatencyThreshold > 0 {
		cases = append(cases, mk(fmt.Sprintf("%s latency below %s", res.Percentile, fmtMS(res.LatencyThreshold)), "latency"))
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
