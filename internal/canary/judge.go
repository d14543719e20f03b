package canary

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Criteria are what the judge holds the canary to.
type Criteria struct {
	// ErrorThreshold is the error rate a canary must not reach (p1 of the
	// sequential test); HealthyRate is the rate it must be shown to be near
	// (p0); 0 means ErrorThreshold/2.
	ErrorThreshold float64
	HealthyRate    float64
	// Latency is the threshold for the Quantile-th latency percentile; zero
	// disables the latency check.
	Latency  time.Duration
	Quantile float64 // 0.5, 0.9, 0.95 or 0.99
	// Alpha is the chance of failing a canary whose error rate is at most
	// HealthyRate (a false rollback), shared equally among the checks that
	// can fail it; Beta is the chance of passing one at ErrorThreshold or
	// worse.
	Alpha, Beta float64
	// MinSamples requests are needed before the canary can pass.
	MinSamples int
	// Baseline compares the canary with the stable version: it fails when
	// its error rate or latency is worse by more than Margin (0.5: 50%).
	Baseline bool
	Margin   float64
	// PerRequest says the source reports every request (the probe), so
	// latency is tested request by request; metric sources give a
	// percentile per interval instead.
	PerRequest bool
}

func (c Criteria) healthy() float64 {
	if c.HealthyRate > 0 {
		return c.HealthyRate
	}
	return c.ErrorThreshold / 2
}

// State is where the analysis stands.
type State string

const (
	Running      State = "running"
	Passed       State = "pass"
	Failed       State = "fail"
	Inconclusive State = "inconclusive"
)

// Judge turns batches into a verdict. It is not safe for concurrent use.
type Judge struct {
	c Criteria

	errT     *sprt // canary error rate
	latT     *sprt // share of requests slower than the threshold (probe)
	baseErrT *sprt // share of errors that are the canary's, given an error (baseline)

	hist, baseHist lazyHist
	n, errs        float64
	bn, berrs      float64
	kinds          map[string]int

	// Metric sources: the latest interval's percentile and how many
	// intervals in a row were over the threshold.
	lastLat, lastBaseLat       time.Duration
	hasLastLat, hasLastBaseLat bool
	latBreaches                int

	state  State
	reason string
	check  string // the check that decided
}

// NewJudge returns a judge for c; c must have been validated.
func NewJudge(c Criteria) *Judge {
	// Histograms are allocated on first use: a simulation runs thousands
	// of judges that never see a latency.
	j := &Judge{c: c, state: Running, kinds: map[string]int{}, hist: lazyHist{}, baseHist: lazyHist{}}
	checks := 1
	if c.Latency > 0 && c.PerRequest {
		checks++
	}
	if c.Baseline {
		checks++
	}
	alpha := c.Alpha / float64(checks)
	j.errT = newSPRT(c.healthy(), c.ErrorThreshold, alpha, c.Beta)
	if c.Latency > 0 && c.PerRequest {
		// The q-quantile is above the threshold exactly when more than 1-q
		// of requests are slower than it: the same test on that share.
		over := 1 - c.Quantile
		j.latT = newSPRT(over/2, over, alpha, c.Beta)
	}
	if c.Baseline {
		// Given an error happened in either track, it is the canary's with
		// probability w*r/(w*r+1) (w: canary/baseline traffic, r: ratio of
		// error rates). H0: r = 1 against H1: r = 1+margin; the
		// probabilities are set per batch from its traffic in add.
		j.baseErrT = newSPRT(0.5, 0.5, alpha, c.Beta).single()
	}
	return j
}

// ExpectedToPass is about how many requests a canary at the healthy error
// rate needs to pass, on average (at least MinSamples).
func (j *Judge) ExpectedToPass() float64 {
	return math.Max(j.errT.expectedToPass(), float64(j.c.MinSamples))
}

// State returns the current state.
func (j *Judge) State() State { return j.state }

// Add feeds one batch; it returns the state after it.
func (j *Judge) Add(b Batch) State {
	if j.state != Running {
		return j.state
	}
	if b.Canary.Samples != nil {
		j.addSamples(b.Canary.Samples)
	} else {
		j.addCounts(&b.Canary)
	}
	if b.Baseline != nil && j.c.Baseline {
		j.addBaseline(&b.Canary, b.Baseline)
	}
	if j.state == Running {
		j.checkPass()
	}
	return j.state
}

func (j *Judge) addSamples(ss []Sample) {
	for _, s := range ss {
		j.n++
		e := 0.0
		if s.Err {
			e = 1
			j.errs++
			j.kinds[s.Kind]++
		}
		j.errT.add(e, 1)
		if s.HasLatency {
			us := s.Latency.Microseconds()
			if us < 1 {
				us = 1
			}
			j.hist.record(us) // values past an hour are clamped by the timeout anyway
			if j.latT != nil {
				over := 0.0
				if s.Latency > j.c.Latency {
					over = 1
				}
				j.latT.add(over, 1)
			}
		}
		if j.checkFail() {
			return
		}
		// Deciding a pass request by request keeps the sample count the
		// one at which the evidence sufficed.
		if j.checkPass() {
			return
		}
	}
}

func (j *Judge) addCounts(o *Obs) {
	t, e := o.total(), o.errors()
	j.n += t
	j.errs += e
	j.errT.add(e, t)
	if o.HasLatency && t > 0 {
		j.lastLat, j.hasLastLat = o.Latency, true
		if j.c.Latency > 0 {
			if o.Latency > j.c.Latency {
				j.latBreaches++
			} else {
				j.latBreaches = 0
			}
		}
	}
	j.checkFail()
}

func (j *Judge) addBaseline(c, b *Obs) {
	bt, be := b.total(), b.errors()
	if b.Samples != nil {
		for _, s := range b.Samples {
			if s.HasLatency {
				us := s.Latency.Microseconds()
				if us < 1 {
					us = 1
				}
				j.baseHist.record(us)
			}
		}
	} else if b.HasLatency && bt > 0 {
		j.lastBaseLat, j.hasLastBaseLat = b.Latency, true
	}
	j.bn += bt
	j.berrs += be
	ct, ce := c.total(), c.errors()
	// The baseline's figures are kept for the report even when the canary
	// was decided within this batch; the comparison only runs before.
	if j.state != Running || ct <= 0 || bt <= 0 || ce+be == 0 {
		return
	}
	w := ct / bt
	r1 := 1 + j.c.Margin
	th0, th1 := w/(w+1), w*r1/(w*r1+1)
	t := j.baseErrT
	t.n += ce + be
	t.events += ce
	t.llr += ce*math.Log(th1/th0) + be*math.Log((1-th1)/(1-th0))
	t.alts[0].llr = t.llr
	if t.llr >= t.a {
		t.crossedA = true
	}
	j.checkFail()
}

// checkFail decides a fail as soon as any check reaches its fail boundary.
func (j *Judge) checkFail() bool {
	switch {
	case j.errT.crossedA:
		lo, hi := wilson(j.errs, j.n, z95)
		j.decide(Failed, "error rate", fmt.Sprintf("error rate %s (95%% CI %s-%s, %s errors in %s requests) is too high: the sequential test of the healthy %s against the %s threshold or worse reached its fail boundary (likelihood ratio %s >= 1/alpha = %s)",
			pct(j.errs/j.n), pct(lo), pct(hi), count(j.errs), count(j.n), pct(j.c.healthy()), pct(j.c.ErrorThreshold), num(math.Exp(j.errT.mixLLR())), num(math.Exp(j.errT.a))))
	case j.latT != nil && j.latT.crossedA:
		j.decide(Failed, "latency", fmt.Sprintf("%s latency is above %s: %s of requests were slower than that (%d of %d), more than the %s a p%s under the threshold allows (likelihood ratio %s >= 1/alpha)",
			j.pname(), j.c.Latency, pct(j.latT.events/j.latT.n), int(j.latT.events), int(j.latT.n), pct(1-j.c.Quantile), j.pnum(), num(math.Exp(j.latT.mixLLR()))))
	case !j.c.PerRequest && j.c.Latency > 0 && j.latBreaches >= 2:
		j.decide(Failed, "latency", fmt.Sprintf("%s latency %s was above the %s threshold in %d intervals in a row", j.pname(), ms(j.lastLat), j.c.Latency, j.latBreaches))
	case j.baseErrT != nil && j.baseErrT.crossedA:
		j.decide(Failed, "baseline error rate", fmt.Sprintf("canary error rate %s is more than %s above the baseline's %s (sequential test of which track the errors come from; likelihood ratio %s >= 1/alpha)",
			pct(j.errs/j.n), pct(j.c.Margin), pct(safeDiv(j.berrs, j.bn)), num(math.Exp(j.baseErrT.llr))))
	default:
		return false
	}
	return true
}

// checkPass passes the canary once every check has accepted and the
// minimum sample count is reached.
func (j *Judge) checkPass() bool {
	if j.state != Running || j.n < float64(j.c.MinSamples) || j.n == 0 || !j.errT.crossedB {
		return false
	}
	if j.latT != nil && !j.latT.crossedB {
		return false
	}
	if !j.c.PerRequest && j.c.Latency > 0 && (!j.hasLastLat || j.lastLat > j.c.Latency) {
		return false
	}
	// The baseline comparison only ever fails a canary on its own (its
	// errors may be too few to accept anything), but a pass waits while the
	// errors seen so far lean towards the canary being the worse one.
	if j.baseErrT != nil && j.baseErrT.llr > 0 {
		return false
	}
	if j.baselineLatencyWorse() != "" {
		return false
	}
	why := fmt.Sprintf("error rate %s is consistent with the healthy %s: the sequential test reached its pass boundary (likelihood ratio %s <= beta = %s) after %s requests",
		pct(j.errs/j.n), pct(j.c.healthy()), num(math.Exp(j.errT.llr)), num(math.Exp(j.errT.b)), count(j.n))
	if j.c.Latency > 0 {
		why += fmt.Sprintf("; %s latency %s is under %s", j.pname(), ms(j.latency()), j.c.Latency)
	}
	j.decide(Passed, "all", why)
	return true
}

// baselineLatencyWorse says why the canary's latency is worse than the
// baseline's by more than the margin, or "" when it is not (or cannot be
// compared yet).
func (j *Judge) baselineLatencyWorse() string {
	if !j.c.Baseline {
		return ""
	}
	var c, b time.Duration
	if j.c.PerRequest {
		if j.hist.TotalCount() < int64(j.c.MinSamples) || j.baseHist.TotalCount() < int64(j.c.MinSamples) {
			return ""
		}
		c = usDur(j.hist.ValueAtPercentile(100 * j.c.Quantile))
		b = usDur(j.baseHist.ValueAtPercentile(100 * j.c.Quantile))
	} else {
		if !j.hasLastLat || !j.hasLastBaseLat {
			return ""
		}
		c, b = j.lastLat, j.lastBaseLat
	}
	if float64(c) > float64(b)*(1+j.c.Margin) {
		return fmt.Sprintf("canary %s latency %s is more than %s above the baseline's %s", j.pname(), ms(c), pct(j.c.Margin), ms(b))
	}
	return ""
}

// Finish ends an analysis that ran out of time or data.
func (j *Judge) Finish(why string) State {
	if j.state != Running {
		return j.state
	}
	switch {
	case j.n == 0:
		j.decide(Inconclusive, "traffic", "no traffic: the canary served no requests to judge"+suffix(why))
	case j.baselineLatencyWorse() != "":
		j.decide(Failed, "baseline latency", j.baselineLatencyWorse()+suffix(why))
	case j.n < float64(j.c.MinSamples):
		j.decide(Inconclusive, "traffic", fmt.Sprintf("only %s requests, fewer than the %d needed", count(j.n), j.c.MinSamples)+suffix(why))
	default:
		j.decide(Inconclusive, "evidence", fmt.Sprintf("the evidence was not decisive: error rate %s lies between the healthy %s and the threshold %s as far as %s requests can tell (%s)",
			pct(j.errs/j.n), pct(j.c.healthy()), pct(j.c.ErrorThreshold), count(j.n), j.progressLine())+suffix(why))
	}
	return j.state
}

// FailNow ends the analysis with a fail for a reason outside the data (the
// source kept failing).
func (j *Judge) FailNow(check, why string) {
	if j.state == Running {
		j.decide(Failed, check, why)
	}
}

func (j *Judge) decide(s State, check, why string) {
	j.state, j.check, j.reason = s, check, why
}

func suffix(why string) string {
	if why == "" {
		return ""
	}
	return "; " + why
}

// latency returns the current estimate of the chosen percentile.
func (j *Judge) latency() time.Duration {
	if j.c.PerRequest {
		if j.hist.TotalCount() == 0 {
			return 0
		}
		return usDur(j.hist.ValueAtPercentile(100 * j.c.Quantile))
	}
	return j.lastLat
}

func (j *Judge) hasLatency() bool {
	if j.c.PerRequest {
		return j.hist.TotalCount() > 0
	}
	return j.hasLastLat
}

// progressLine is the one-line state of every check.
func (j *Judge) progressLine() string {
	var parts []string
	if j.errT.crossedB {
		parts = append(parts, "error test: healthy")
	} else {
		toPass := max(j.errT.toPass(), j.c.MinSamples-int(j.n))
		parts = append(parts, fmt.Sprintf("error test: fail after %d more errors in a row, pass after %d clean requests", j.errT.toFail(), toPass))
	}
	if j.latT != nil {
		if j.latT.crossedB {
			parts = append(parts, "latency test: fast enough")
		} else {
			parts = append(parts, fmt.Sprintf("latency test: %d of %d slower than %s", int(j.latT.events), int(j.latT.n), j.c.Latency))
		}
	}
	return strings.Join(parts, "; ")
}

func (j *Judge) pname() string { return "p" + j.pnum() }
func (j *Judge) pnum() string  { return percentileName(j.c.Quantile) }

func percentileName(q float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", q*100), "0"), ".")
}

// Evidence is the figures behind a state: what every report and event shows.
type Evidence struct {
	State       State   `json:"verdict"`
	Check       string  `json:"decided_by,omitempty"`
	Reason      string  `json:"reason"`
	Samples     float64 `json:"samples"`
	Errors      float64 `json:"errors"`
	ErrorRate   float64 `json:"error_rate"`
	ErrorRateLo float64 `json:"error_rate_ci_low"`
	ErrorRateHi float64 `json:"error_rate_ci_high"`
	Threshold   float64 `json:"error_threshold"`
	Healthy     float64 `json:"healthy_error_rate"`
	// ErrorKinds counts probe errors by cause ("status 503": 12).
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`

	Percentile       string   `json:"percentile"`
	LatencyMS        *float64 `json:"latency_ms,omitempty"`
	LatencyLoMS      *float64 `json:"latency_ci_low_ms,omitempty"`
	LatencyHiMS      *float64 `json:"latency_ci_high_ms,omitempty"`
	LatencyThreshold float64  `json:"latency_threshold_ms,omitempty"`
	// LatencyBound explains the interval (or why there is none).
	LatencyBound string `json:"latency_bound"`

	// ErrorLLR is ln L1 (p1 against p0), held to PassAt; FailLLR is ln M
	// (the mixture), held to FailAt.
	ErrorLLR float64 `json:"error_log_likelihood_ratio"`
	FailLLR  float64 `json:"fail_log_likelihood_ratio"`
	FailAt   float64 `json:"fail_boundary"`
	PassAt   float64 `json:"pass_boundary"`

	Baseline *BaselineEvidence `json:"baseline,omitempty"`
}

// BaselineEvidence is the stable version's figures.
type BaselineEvidence struct {
	Samples   float64  `json:"samples"`
	Errors    float64  `json:"errors"`
	ErrorRate float64  `json:"error_rate"`
	LatencyMS *float64 `json:"latency_ms,omitempty"`
	Margin    float64  `json:"margin"`
}

// Evidence returns the current figures.
func (j *Judge) Evidence() Evidence {
	e := Evidence{
		State: j.state, Check: j.check, Reason: j.reason,
		Samples: j.n, Errors: j.errs, ErrorRate: safeDiv(j.errs, j.n),
		Threshold: j.c.ErrorThreshold, Healthy: j.c.healthy(),
		Percentile: j.pname(),
		ErrorLLR:   j.errT.llr, FailLLR: j.errT.mixLLR(), FailAt: j.errT.a, PassAt: j.errT.b,
	}
	e.ErrorRateLo, e.ErrorRateHi = wilson(j.errs, j.n, z95)
	if len(j.kinds) > 0 {
		e.ErrorKinds = j.kinds
	}
	if j.c.Latency > 0 {
		e.LatencyThreshold = msf(j.c.Latency)
	}
	if j.hasLatency() {
		v := msf(j.latency())
		e.LatencyMS = &v
		if j.c.PerRequest {
			lo, hi, ok := quantileBounds(j.hist.h, j.c.Quantile)
			l := msf(usDur(lo))
			e.LatencyLoMS = &l
			if ok {
				h := msf(usDur(hi))
				e.LatencyHiMS = &h
				e.LatencyBound = "95% order-statistic interval"
			} else {
				e.LatencyBound = "95% order-statistic interval; too few requests for an upper bound"
			}
		} else {
			e.LatencyBound = "none: the percentile comes pre-aggregated from the metric system for the last interval"
		}
	} else {
		e.LatencyBound = "no latency measured"
	}
	if j.c.Baseline {
		be := &BaselineEvidence{Samples: j.bn, Errors: j.berrs, ErrorRate: safeDiv(j.berrs, j.bn), Margin: j.c.Margin}
		if j.c.PerRequest && j.baseHist.TotalCount() > 0 {
			v := msf(usDur(j.baseHist.ValueAtPercentile(100 * j.c.Quantile)))
			be.LatencyMS = &v
		} else if !j.c.PerRequest && j.hasLastBaseLat {
			v := msf(j.lastBaseLat)
			be.LatencyMS = &v
		}
		e.Baseline = be
	}
	return e
}

// Summary is one line of figures: samples, errors, rate with its interval,
// the percentile with its interval.
func (e Evidence) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s requests, %s errors, error rate %s (95%% CI %s-%s)", count(e.Samples), count(e.Errors), pct(e.ErrorRate), pct(e.ErrorRateLo), pct(e.ErrorRateHi))
	if e.LatencyMS != nil {
		fmt.Fprintf(&b, ", %s %s", e.Percentile, fmtMS(*e.LatencyMS))
		if e.LatencyLoMS != nil {
			if e.LatencyHiMS != nil {
				fmt.Fprintf(&b, " (95%% CI %s-%s)", fmtMS(*e.LatencyLoMS), fmtMS(*e.LatencyHiMS))
			} else {
				fmt.Fprintf(&b, " (95%% CI from %s)", fmtMS(*e.LatencyLoMS))
			}
		}
	}
	if e.Baseline != nil {
		fmt.Fprintf(&b, "; baseline %s requests, error rate %s", count(e.Baseline.Samples), pct(e.Baseline.ErrorRate))
		if e.Baseline.LatencyMS != nil {
			fmt.Fprintf(&b, ", %s %s", e.Percentile, fmtMS(*e.Baseline.LatencyMS))
		}
	}
	return b.String()
}

// Kinds lists error causes, most frequent first.
func (e Evidence) Kinds() string {
	type kv struct {
		k string
		n int
	}
	var kvs []kv
	for k, n := range e.ErrorKinds {
		kvs = append(kvs, kv{k, n})
	}
	sort.Slice(kvs, func(a, b int) bool {
		if kvs[a].n != kvs[b].n {
			return kvs[a].n > kvs[b].n
		}
		return kvs[a].k < kvs[b].k
	})
	parts := make([]string, len(kvs))
	for i, x := range kvs {
		parts[i] = fmt.Sprintf("%s: %d", x.k, x.n)
	}
	return strings.Join(parts, ", ")
}

// lazyHist is a latency histogram in microseconds, allocated on first use.
type lazyHist struct{ h *hdrhistogram.Histogram }

func (l *lazyHist) record(us int64) {
	if l.h == nil {
		l.h = newHistogram()
	}
	_ = l.h.RecordValue(us) // past 10 minutes is clamped by the timeout anyway
}

// TotalCount is the number of values recorded.
func (l *lazyHist) TotalCount() int64 {
	if l.h == nil {
		return 0
	}
	return l.h.TotalCount()
}

// ValueAtPercentile is the histogram's value at percentile (0-100).
func (l *lazyHist) ValueAtPercentile(p float64) int64 {
	if l.h == nil {
		return 0
	}
	return l.h.ValueAtPercentile(p)
}

func safeDiv(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

func usDur(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

func msf(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func ms(d time.Duration) string { return fmtMS(msf(d)) }

func fmtMS(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// pct formats a fraction as a percentage with sensible precision.
func pct(f float64) string {
	v := f * 100
	switch {
	case v == 0:
		return "0%"
	case v >= 10:
		return fmt.Sprintf("%.1f%%", v)
	case v >= 0.1:
		return fmt.Sprintf("%.2f%%", v)
	default:
		return fmt.Sprintf("%.3g%%", v)
	}
}

func count(f float64) string {
	if f == math.Trunc(f) || f > 1000 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

func num(f float64) string {
	switch {
	case f >= 1e6 || (f < 1e-3 && f > 0):
		return fmt.Sprintf("%.2g", f)
	case f >= 100:
		return fmt.Sprintf("%.0f", f)
	default:
		return fmt.Sprintf("%.3g", f)
	}
}
