package canary

import (
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"
)

func defaultCriteria() Criteria {
	return Criteria{ErrorThreshold: 0.02, Quantile: 0.95, Alpha: 0.01, Beta: 0.05, MinSamples: 100, PerRequest: true, Margin: 0.5}
}

func TestWilson(t *testing.T) {
	cases := []struct {
		k, n, lo, hi float64
	}{
		{0, 10, 0, 0.2775},
		{1, 10, 0.0179, 0.4042},
		{10, 100, 0.0552, 0.1744},
		{100, 100, 0.963, 1},
	}
	for _, c := range cases {
		lo, hi := wilson(c.k, c.n, z95)
		if math.Abs(lo-c.lo) > 5e-4 || math.Abs(hi-c.hi) > 5e-4 {
			t.Errorf("wilson(%v, %v) = %.4f, %.4f; want %.4f, %.4f", c.k, c.n, lo, hi, c.lo, c.hi)
		}
	}
}

func TestQuantileBoundsCoverTrueQuantile(t *testing.T) {
	// Uniform latencies over 1..1000 ms: the true p95 is 950 ms.
	r := rand.New(rand.NewPCG(7, 7))
	miss := 0
	const runs = 400
	for range runs {
		h := newHistogram()
		for range 300 {
			_ = h.RecordValue(int64(1000 + r.IntN(999_000)))
		}
		lo, hi, ok := quantileBounds(h, 0.95)
		if !ok {
			t.Fatal("300 samples should bound p95 from above")
		}
		if lo > 950_000 || hi < 950_000 {
			miss++
		}
	}
	// A 95% interval misses about 5% of the time; far more means it is wrong.
	if miss > runs/10 {
		t.Errorf("the interval missed the true p95 in %d of %d runs", miss, runs)
	}
}

func TestQuantileBoundsTooFewSamples(t *testing.T) {
	h := newHistogram()
	for i := range 20 {
		_ = h.RecordValue(int64(1000 * (i + 1)))
	}
	if _, _, ok := quantileBounds(h, 0.99); ok {
		t.Error("20 samples cannot bound p99 from above")
	}
}

func samples(n int, errEvery int, lat time.Duration) []Sample {
	out := make([]Sample, n)
	for i := range out {
		out[i] = Sample{Latency: lat, HasLatency: true}
		if errEvery > 0 && i%errEvery == errEvery-1 {
			out[i].Err, out[i].Kind = true, "status 500"
		}
	}
	return out
}

func TestJudgeDecides(t *testing.T) {
	slow := defaultCriteria()
	slow.Latency = 100 * time.Millisecond
	tests := []struct {
		name   string
		c      Criteria
		batch  []Sample
		want   State
		check  string
		maxReq float64
	}{
		{"all errors fail fast", defaultCriteria(), samples(100, 1, time.Millisecond), Failed, "error rate", 10},
		{"one in five fails", defaultCriteria(), samples(400, 5, time.Millisecond), Failed, "error rate", 80},
		{"clean passes", defaultCriteria(), samples(2000, 0, time.Millisecond), Passed, "all", 400},
		{"slow fails on latency", slow, samples(2000, 0, 300*time.Millisecond), Failed, "latency", 20},
		{"fast passes the latency check", slow, samples(2000, 0, 30*time.Millisecond), Passed, "all", 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := NewJudge(tc.c)
			j.Add(Batch{Canary: Obs{Samples: tc.batch}})
			e := j.Evidence()
			if e.State != tc.want || e.Check != tc.check {
				t.Fatalf("state %s by %q, want %s by %q: %s", e.State, e.Check, tc.want, tc.check, e.Reason)
			}
			if e.Samples > tc.maxReq {
				t.Errorf("decided after %v requests, want at most %v", e.Samples, tc.maxReq)
			}
			if e.Reason == "" {
				t.Error("no reason")
			}
		})
	}
}

func TestJudgeMinSamplesGatesPass(t *testing.T) {
	c := defaultCriteria()
	c.MinSamples = 1000
	j := NewJudge(c)
	j.Add(Batch{Canary: Obs{Samples: samples(999, 0, time.Millisecond)}})
	if j.State() != Running {
		t.Fatalf("passed with %v requests, fewer than min_samples", j.Evidence().Samples)
	}
	j.Add(Batch{Canary: Obs{Samples: samples(1, 0, time.Millisecond)}})
	if j.State() != Passed {
		t.Fatalf("state %s after min_samples clean requests", j.State())
	}
}

func TestJudgeFinish(t *testing.T) {
	j := NewJudge(defaultCriteria())
	if j.Finish("max_duration 1m reached") != Inconclusive || !strings.Contains(j.Evidence().Reason, "no traffic") {
		t.Errorf("no traffic: %s %q", j.State(), j.Evidence().Reason)
	}
	j = NewJudge(defaultCriteria())
	// 1.5% errors: between healthy and threshold, undecided after 200 requests.
	j.Add(Batch{Canary: Obs{Samples: samples(200, 67, time.Millisecond)}})
	if j.State() != Running {
		t.Fatalf("decided on ambiguous evidence: %s", j.Evidence().Reason)
	}
	if j.Finish("max_duration 1m reached") != Inconclusive || !strings.Contains(j.Evidence().Reason, "not decisive") {
		t.Errorf("ambiguous: %s %q", j.State(), j.Evidence().Reason)
	}
}

// TestJudgeFinishEveryProbeRequestFailed: too few requests for the test to
// decide, all of them failed: the probe's canary fails; a metric source's
// counts stay undecided.
func TestJudgeFinishEveryProbeRequestFailed(t *testing.T) {
	j := NewJudge(defaultCriteria())
	j.Add(Batch{Canary: Obs{Samples: []Sample{{Err: true, Kind: "timeout", HasLatency: true, Latency: time.Second}}}})
	if j.State() != Running {
		t.Fatalf("decided on one request: %s", j.Evidence().Reason)
	}
	if j.Finish("max_duration 2s reached") != Failed || !strings.Contains(j.Evidence().Reason, "failed the one request sent to it") ||
		!strings.Contains(j.Evidence().Reason, "timeout: 1") {
		t.Errorf("every request failed: %s %q", j.State(), j.Evidence().Reason)
	}
	// One answered request is "1 request", not "1 requests".
	j = NewJudge(defaultCriteria())
	j.Add(Batch{Canary: Obs{Samples: []Sample{{HasLatency: true, Latency: time.Millisecond}}}})
	if j.Finish("max_duration 2s reached") != Inconclusive || !strings.Contains(j.Evidence().Reason, "only 1 request, fewer than") {
		t.Errorf("one request: %s %q", j.State(), j.Evidence().Reason)
	}
	// One answered request leaves the statistics to decide.
	j = NewJudge(defaultCriteria())
	j.Add(Batch{Canary: Obs{Samples: []Sample{{HasLatency: true, Latency: time.Millisecond}, {Err: true, Kind: "timeout"}}}})
	if j.Finish("max_duration 2s reached") != Inconclusive {
		t.Errorf("one of two failed: %s %q", j.State(), j.Evidence().Reason)
	}
	c := defaultCriteria()
	c.PerRequest = false
	j = NewJudge(c)
	j.Add(Batch{Canary: Obs{Total: 1, Errors: 1}})
	if j.Finish("max_duration 2s reached") != Inconclusive {
		t.Errorf("metric counts, all errors: %s %q", j.State(), j.Evidence().Reason)
	}
}

func TestJudgeCounts(t *testing.T) {
	c := defaultCriteria()
	c.PerRequest = false
	c.Latency = 200 * time.Millisecond
	t.Run("errors per interval", func(t *testing.T) {
		j := NewJudge(c)
		j.Add(Batch{Canary: Obs{Total: 600, Errors: 60, Latency: 50 * time.Millisecond, HasLatency: true}})
		if j.State() != Failed {
			t.Fatalf("10%% errors over 600 requests: %s", j.State())
		}
	})
	t.Run("healthy intervals pass", func(t *testing.T) {
		j := NewJudge(c)
		for range 3 {
			j.Add(Batch{Canary: Obs{Total: 300, Errors: 1, Latency: 50 * time.Millisecond, HasLatency: true}})
		}
		if j.State() != Passed {
			t.Fatalf("state %s: %s", j.State(), j.progressLine())
		}
	})
	t.Run("slow intervals fail by a sign test, not two in a row", func(t *testing.T) {
		j := NewJudge(c)
		for i := 1; i <= 20 && j.State() == Running; i++ {
			j.Add(Batch{Canary: Obs{Total: 300, Latency: 500 * time.Millisecond, HasLatency: true}})
			if i <= 2 && j.State() != Running {
				t.Fatalf("%d slow intervals decided: %s", i, j.Evidence().Reason)
			}
		}
		if j.State() != Failed || j.Evidence().Check != "latency" {
			t.Fatalf("slow intervals: %s by %s", j.State(), j.Evidence().Check)
		}
	})
	t.Run("histogram buckets decide like requests", func(t *testing.T) {
		// 20% slower than the threshold, bracketed exactly: fails in one interval.
		j := NewJudge(c)
		j.Add(Batch{Canary: Obs{Total: 300, SlowLo: 60, SlowHi: 60, HasSlow: true, Latency: 500 * time.Millisecond, HasLatency: true}})
		if j.State() != Failed || j.Evidence().Check != "latency" {
			t.Fatalf("20%% slow: %s by %s", j.State(), j.Evidence().Check)
		}
		// Buckets too coarse to tell (0 to 60 slow): neither verdict, even
		// with every interval's interpolated percentile above the
		// threshold (with buckets, the sign test over intervals is not a
		// second fail test).
		j = NewJudge(c)
		for range 20 {
			j.Add(Batch{Canary: Obs{Total: 300, SlowLo: 0, SlowHi: 60, HasSlow: true, Latency: 250 * time.Millisecond, HasLatency: true}})
		}
		if j.State() != Running {
			t.Fatalf("coarse buckets decided: %s: %s", j.State(), j.Evidence().Reason)
		}
		// 2% slow, exact: passes.
		j = NewJudge(c)
		for range 5 {
			j.Add(Batch{Canary: Obs{Total: 300, SlowLo: 6, SlowHi: 6, HasSlow: true}})
		}
		if j.State() != Passed {
			t.Fatalf("2%% slow: %s: %s", j.State(), j.progressLine())
		}
	})
	t.Run("latency without data is never a pass", func(t *testing.T) {
		j := NewJudge(c)
		for range 20 {
			j.Add(Batch{Canary: Obs{Total: 300, Note: "no data for the latency query"}})
		}
		if j.State() != Running || j.Finish("") != Inconclusive {
			t.Fatalf("state %s: %s", j.State(), j.Evidence().Reason)
		}
	})
	t.Run("no data stays undecided", func(t *testing.T) {
		j := NewJudge(c)
		for range 5 {
			j.Add(Batch{Canary: Obs{Note: "no series"}})
		}
		if j.State() != Running || j.Finish("") != Inconclusive {
			t.Fatalf("state %s", j.State())
		}
	})
}

func TestJudgeBaseline(t *testing.T) {
	c := defaultCriteria()
	c.Baseline = true
	// The absolute test alone would not fail 8%; the canary's own healthy
	// rate is 2%, so the baseline comparison may.
	c.ErrorThreshold, c.HealthyRate = 0.2, 0.02
	j := NewJudge(c)
	canary := samples(2000, 12, time.Millisecond) // 8% errors
	base := samples(2000, 100, time.Millisecond)  // 1% errors
	for i := 0; i < len(canary); i += 10 {
		j.Add(Batch{
			Canary:   Obs{Samples: canary[i : i+10]},
			Baseline: &Obs{Samples: base[i : i+10]},
		})
		if j.State() != Running {
			break
		}
	}
	if j.State() != Failed || j.Evidence().Check != "baseline error rate" {
		t.Fatalf("state %s by %q: %s", j.State(), j.Evidence().Check, j.Evidence().Reason)
	}
	if j.Evidence().Baseline == nil {
		t.Fatal("no baseline figures")
	}
}

func TestJudgeBaselineLatency(t *testing.T) {
	c := defaultCriteria()
	c.Baseline = true
	j := NewJudge(c)
	for range 100 {
		j.Add(Batch{
			Canary:   Obs{Samples: samples(10, 0, 40*time.Millisecond)},
			Baseline: &Obs{Samples: samples(10, 0, 10*time.Millisecond)},
		})
	}
	if j.State() != Failed || j.Evidence().Check != "baseline latency" {
		t.Fatalf("a canary 4x slower than the baseline: %s by %s: %s", j.State(), j.Evidence().Check, j.Evidence().Reason)
	}
	// As fast as the baseline: passes once the reference is fixed and the
	// canary is shown under it.
	j = NewJudge(c)
	for range 300 {
		if j.Add(Batch{
			Canary:   Obs{Samples: samples(10, 0, 10*time.Millisecond)},
			Baseline: &Obs{Samples: samples(10, 0, 10*time.Millisecond)},
		}) != Running {
			break
		}
	}
	if j.State() != Passed {
		t.Fatalf("as fast as the baseline: %s: %s", j.State(), j.Evidence().Reason)
	}
}

func TestJudgeZeroErrorBaseline(t *testing.T) {
	c := defaultCriteria()
	c.Baseline = true
	// 0.5% errors against a baseline with none: worse than it, but under
	// its own healthy 1%, so never failed for it, and passed.
	j := NewJudge(c)
	for i := 0; i < 2000 && j.State() == Running; i++ {
		j.Add(Batch{Canary: Obs{Samples: samples(10, 200, time.Millisecond)}, Baseline: &Obs{Samples: samples(10, 0, time.Millisecond)}})
	}
	if j.State() != Passed {
		t.Fatalf("0.5%% against a zero-error baseline: %s: %s", j.State(), j.Evidence().Reason)
	}
	// A baseline with no data at all never lets the canary pass.
	j = NewJudge(c)
	for range 2000 {
		j.Add(Batch{Canary: Obs{Samples: samples(10, 0, time.Millisecond)}, Baseline: &Obs{Note: "no series matched"}})
	}
	if j.State() != Running {
		t.Fatalf("passed without baseline data: %s", j.Evidence().Reason)
	}
}

func TestJudgeRunsCountOnce(t *testing.T) {
	c := defaultCriteria()
	c.Latency, c.RunCap = 300*time.Millisecond, 10
	burst := func(at, n int, err bool) []Sample {
		ss := samples(3000, 0, 50*time.Millisecond)
		for i := at; i < at+n; i++ {
			if err {
				ss[i].Err, ss[i].Kind = true, "status 500"
			} else {
				ss[i].Latency = time.Second
			}
		}
		return ss
	}
	for _, tc := range []struct {
		name string
		ss   []Sample
	}{
		{"3 errors in a row at the start", burst(0, 3, true)},
		{"a burst of 5 errors", burst(40, 5, true)},
		{"a pair of errors", burst(40, 2, true)},
		{"10 slow in a row", burst(40, 10, false)},
	} {
		j := NewJudge(c)
		j.Add(Batch{Canary: Obs{Samples: tc.ss}})
		if j.State() != Passed {
			t.Errorf("%s: %s: %s", tc.name, j.State(), j.Evidence().Reason)
		}
	}
	// Every request failing is still a fail: past the allowance (RunCap+1
	// requests) every request counts, and three errors then suffice.
	j := NewJudge(c)
	j.Add(Batch{Canary: Obs{Samples: samples(200, 1, time.Millisecond)}})
	if j.State() != Failed || j.Evidence().Samples > float64(c.RunCap+1+3) {
		t.Fatalf("all errors: %s after %v requests", j.State(), j.Evidence().Samples)
	}
	// Without the allowance the same burst fails the canary.
	c.RunCap = 0
	j = NewJudge(c)
	j.Add(Batch{Canary: Obs{Samples: burst(0, 3, true)}})
	if j.State() != Failed {
		t.Fatalf("3 errors at the start with every request counted: %s", j.State())
	}
}

func TestJudgeLatencyHypotheses(t *testing.T) {
	c := defaultCriteria()
	c.Latency = 100 * time.Millisecond
	every := func(k int) []Sample {
		ss := samples(5000, 0, 10*time.Millisecond)
		for i := k - 1; i < len(ss); i += k {
			ss[i].Latency = 200 * time.Millisecond
		}
		return ss
	}
	// Exactly meeting p95 (every 20th request slow) is healthy; 10% is not.
	for _, tc := range []struct {
		k    int
		want State
	}{{20, Passed}, {10, Failed}} {
		j := NewJudge(c)
		j.Add(Batch{Canary: Obs{Samples: every(tc.k)}})
		if j.State() != tc.want {
			t.Errorf("1 in %d slow: %s, want %s: %s", tc.k, j.State(), tc.want, j.Evidence().Reason)
		}
	}
	// Stricter hypotheses: pass at 1%, fail at 4%: 5% now fails.
	c.LatencyPassShare, c.LatencyFailShare = 0.01, 0.04
	j := NewJudge(c)
	j.Add(Batch{Canary: Obs{Samples: every(20)}})
	if j.State() != Failed || !strings.Contains(j.Evidence().Reason, "against the 1% a healthy canary") {
		t.Errorf("5%% slow against pass 1%%/fail 4%%: %s: %s", j.State(), j.Evidence().Reason)
	}
}

func TestPassCostCoversEveryCheck(t *testing.T) {
	c := defaultCriteria()
	errOnly := EstimatePassCost(c, 100_000)
	c.Latency, c.Quantile = 300*time.Millisecond, 0.99
	withP99 := EstimatePassCost(c, 100_000)
	c.Latency, c.Baseline = 0, true
	withBase := EstimatePassCost(c, 100_000)
	// p99's latency test at 1% against 2% costs about what the error test
	// does; the slower of two tests is slower than either (wide margins).
	if !(withP99.Mean > 1.1*errOnly.Mean) || !(withBase.Mean > 1.5*errOnly.Mean) {
		t.Errorf("mean requests to pass: error only %.0f, with p99 %.0f, with baseline %.0f", errOnly.Mean, withP99.Mean, withBase.Mean)
	}
	short := EstimatePassCost(c, 500)
	if errOnly.P99 < errOnly.Mean || short.Undecided < 0.5 {
		t.Errorf("p99 %.0f below the mean %.0f, or 500 requests enough for a baseline comparison", errOnly.P99, errOnly.Mean)
	}
	// A short max_duration leaves more undecided; it does not make the
	// canary cheaper.
	if short.Mean != withBase.Mean {
		t.Errorf("mean with 500 requests allowed %.0f, with 100,000 %.0f: the estimate must not depend on the limit", short.Mean, withBase.Mean)
	}
	// A healthy rate next to the threshold needs more than any canary is
	// simulated for: the estimate stops at the cap however large the limit
	// (1000/s for an hour), and counts those canaries as undecided.
	near := defaultCriteria()
	near.HealthyRate = 0.019
	huge := EstimatePassCost(near, 3_600_000)
	if huge.P99 > passCostCap || huge.Undecided == 0 {
		t.Errorf("healthy 1.9%% against 2%%: p99 %.0f requests (cap %d), undecided %.2f", huge.P99, passCostCap, huge.Undecided)
	}
}

// simulate runs one canary through the judge at 10 requests a second for
// at most maxDur; it returns the state and the time to the verdict (the
// deciding request's scheduled time: the judge decides request by request).
func simulate(r *rand.Rand, c Criteria, errRate float64, maxDur time.Duration) (State, time.Duration) {
	const rate = 10
	j := NewJudge(c)
	ss := make([]Sample, 50)
	limit := int(maxDur.Seconds() * rate)
	for sent := 0; sent < limit; sent += len(ss) {
		for i := range ss {
			// Latency plays no part here: the error test alone is simulated.
			ss[i] = Sample{}
			if r.Float64() < errRate {
				ss[i].Err, ss[i].Kind = true, "status 500"
			}
		}
		if j.Add(Batch{Canary: Obs{Samples: ss}}) != Running {
			return j.State(), time.Duration(j.Evidence().Samples / rate * float64(time.Second))
		}
	}
	return j.Finish("max_duration"), maxDur
}

// TestSimulatedFalseRollbacks runs 10,000 healthy canaries (1% errors,
// threshold 2%, alpha 1%) and checks that the share rolled back (fail, or
// inconclusive with the default on_inconclusive fail) is at most alpha
// within sampling tolerance.
func TestSimulatedFalseRollbacks(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 11))
	c := defaultCriteria()
	const runs = 10_000
	rolledBack := 0
	var times []float64
	for range runs {
		s, el := simulate(r, c, 0.01, 10*time.Minute)
		if s != Passed {
			rolledBack++
		}
		times = append(times, el.Seconds())
	}
	rate := float64(rolledBack) / runs
	tol := 3 * math.Sqrt(c.Alpha*(1-c.Alpha)/runs)
	t.Logf("healthy: %d of %d rolled back (%.2f%%), median time to verdict %.0fs, p90 %.0fs", rolledBack, runs, 100*rate, median(times), quantile(times, 0.9))
	if rate > c.Alpha+tol {
		t.Errorf("false rollbacks %.3f%% > alpha %.1f%% + %.2f%%", 100*rate, 100*c.Alpha, 100*tol)
	}
	if m := median(times); m >= 180 {
		t.Errorf("healthy canaries passed in a median %.0fs, want under 3 minutes", m)
	}
}

// TestSimulatedDetection runs bad canaries and checks they are failed, and
// how fast.
func TestSimulatedDetection(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 12))
	c := defaultCriteria()
	for _, tc := range []struct {
		errRate   float64
		medianMax float64 // seconds
	}{
		{0.20, 5},
		{0.05, 20},
		{0.02, 300}, // at the threshold: failed at least 1-beta of the time
	} {
		const runs = 2000
		failed := 0
		var times []float64
		for range runs {
			s, el := simulate(r, c, tc.errRate, 10*time.Minute)
			if s == Failed {
				failed++
				times = append(times, el.Seconds())
			}
		}
		share := float64(failed) / runs
		t.Logf("%.0f%% errors: failed %.2f%%, median %.1fs, p90 %.1fs, p99 %.1fs", 100*tc.errRate, 100*share, median(times), quantile(times, 0.9), quantile(times, 0.99))
		if share < 1-c.Beta-3*math.Sqrt(c.Beta*(1-c.Beta)/runs) {
			t.Errorf("%.0f%% errors: failed only %.2f%%", 100*tc.errRate, 100*share)
		}
		if m := median(times); m > tc.medianMax {
			t.Errorf("%.0f%% errors: median time to fail %.1fs, want <= %.0fs", 100*tc.errRate, m, tc.medianMax)
		}
	}
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[int(q*float64(len(s)-1))]
}

func TestExpectedToPassMatchesSimulation(t *testing.T) {
	// The estimate (a small simulation of the judge) against a larger
	// simulation of the same canaries.
	got := NewJudge(defaultCriteria()).ExpectedToPass()
	if got < 850 || got > 1000 {
		t.Errorf("expected requests to pass %v, want about 936", got)
	}
	r := rand.New(rand.NewPCG(5, 5))
	sum, n := 0.0, 0
	for range 2000 {
		if s, el := simulate(r, defaultCriteria(), 0.01, 30*time.Minute); s == Passed {
			sum += el.Seconds() * 10
			n++
		}
	}
	if mean := sum / float64(n); math.Abs(mean-got)/got > 0.25 {
		t.Errorf("simulated mean %v requests, approximation %v", mean, got)
	}
}

func TestSPRTMixture(t *testing.T) {
	for _, p1 := range []float64{0.02, 0.2, 0.5, 0.9} {
		s := newSPRT(p1/2, p1, 0.01, 0.05)
		w := 0.0
		for i, a := range s.alts {
			w += math.Exp(a.lnW)
			if i > 0 && !(a.incEvent > s.alts[i-1].incEvent) {
				t.Errorf("p1 %v: alternatives not increasing: %+v", p1, s.alts)
			}
			if math.IsInf(a.incOK, 0) || math.IsNaN(a.incOK) {
				t.Errorf("p1 %v: an alternative rules itself out on a clean request: %+v", p1, a)
			}
		}
		if math.Abs(w-1) > 1e-9 {
			t.Errorf("p1 %v: weights sum to %v", p1, w)
		}
		// toFail errors in a row cross the fail boundary, one fewer does not.
		s.add(0, 50)
		k := s.toFail()
		c := *s
		c.alts = append([]alt(nil), s.alts...)
		c.add(float64(k-1), float64(k-1))
		if c.crossedA {
			t.Errorf("p1 %v: crossed after %d errors, toFail said %d", p1, k-1, k)
		}
		c.add(1, 1)
		if !c.crossedA {
			t.Errorf("p1 %v: not crossed after toFail = %d errors", p1, k)
		}
	}
}

func TestRunsSteps(t *testing.T) {
	// stall_allowance of 4 requests: a run of up to 5 is one stall.
	r := runs{limit: 4}
	type want struct {
		step       failStep
		pass, open bool
	}
	seq := []struct {
		ev bool
		w  want
	}{
		{false, want{stepTrial, true, false}},
		{true, want{stepTrial, true, true}},      // a run's first event counts on both sides
		{true, want{stepTakeBack, false, false}}, // the second takes it back
		{true, want{stepSkip, false, false}},
		{true, want{stepSkip, false, false}},
		{true, want{stepSkip, false, false}},      // fifth: still one stall
		{true, want{stepTrial, true, false}},      // longer than the allowance: every request counts
		{false, want{stepTrial, true, false}},     // and the good request ending it
		{true, want{stepTrial, true, true}},       // a new run
		{false, want{stepTakeBack, false, false}}, // the good request after one error is left out (no take-back: not an event)
		{false, want{stepTrial, true, false}},
	}
	for i, s := range seq {
		got := want{r.failStep(), r.passTrial(), false}
		r.push(s.ev)
		got.open = r.open()
		if got != s.w {
			t.Errorf("request %d (event %v): got %+v, want %+v", i, s.ev, got, s.w)
		}
	}
	// No allowance: every request is a trial on both sides, never open.
	r = runs{}
	for _, ev := range []bool{true, true, true, false} {
		if r.failStep() != stepTrial || !r.passTrial() {
			t.Fatalf("limit 0: step %v pass %v", r.failStep(), r.passTrial())
		}
		r.push(ev)
		if r.open() {
			t.Fatal("limit 0: open run")
		}
	}
}

// errorsThen feeds a judge n requests with an error every k-th and then
// extra; it returns the judge.
func errorsThen(c Criteria, n, k int, extra ...bool) *Judge {
	j := NewJudge(c)
	j.Add(Batch{Canary: Obs{Samples: samples(n, k, time.Millisecond)}})
	for _, e := range extra {
		j.Add(Batch{Canary: Obs{Samples: []Sample{{Err: e, Latency: time.Millisecond, HasLatency: true}}}})
	}
	return j
}

func TestJudgeBurstCountsNothingTowardsAFail(t *testing.T) {
	c := defaultCriteria()
	c.RunCap = 10
	j := errorsThen(c, 160, 50)
	before := j.errT.mixLLR()
	for _, n := range []int{2, 3, 5, 11} {
		burst := make([]bool, n)
		for i := range burst {
			burst[i] = true
		}
		k := errorsThen(c, 160, 50, burst...)
		if got := k.errT.mixLLR(); math.Abs(got-before) > 1e-9 || k.errT.eventsFail != j.errT.eventsFail || k.errT.nFail != j.errT.nFail {
			t.Errorf("burst of %d: fail side %.4f (%v of %v), want %.4f (%v of %v) as before it", n, got, k.errT.eventsFail, k.errT.nFail, before, j.errT.eventsFail, j.errT.nFail)
		}
		// Towards a pass the burst is one error.
		if k.errT.events != j.errT.events+1 {
			t.Errorf("burst of %d: pass side counted %v errors, want %v", n, k.errT.events, j.errT.events+1)
		}
		// Its errors are the ones reported as left out.
		if got := k.Evidence().RunSkippedErrors; got != float64(n) {
			t.Errorf("burst of %d: %v errors left out, want %d", n, got, n)
		}
	}
	// A pair ended by a good request leaves the fail side where it was too.
	k := errorsThen(c, 160, 50, true, true, false)
	if got := k.errT.mixLLR(); math.Abs(got-before) > 1e-9 || k.errT.nFail != j.errT.nFail {
		t.Errorf("pair: fail side %.4f in %v trials, want %.4f in %v", got, k.errT.nFail, before, j.errT.nFail)
	}
	// The take-back scales every component alike: the worst rate's share
	// of M grows, the threshold's shrinks.
	last := len(k.errT.alts) - 1
	if k.errT.alts[last].llr <= j.errT.alts[last].llr || k.errT.alts[0].llr >= j.errT.alts[0].llr {
		t.Errorf("pair: components %v, before %v", k.errT.alts, j.errT.alts)
	}
	// One error apart counts as an independent error would; the good
	// request after it is left out (it is where a pair would take it back).
	k = errorsThen(c, 160, 50, true, false)
	if k.errT.eventsFail != j.errT.eventsFail+1 || k.errT.nFail != j.errT.nFail+1 || k.Evidence().RunSkippedErrors != 0 {
		t.Errorf("one error: fail side %v errors in %v (%v left out), want %v in %v (none)", k.errT.eventsFail, k.errT.nFail, k.Evidence().RunSkippedErrors, j.errT.eventsFail+1, j.errT.nFail+1)
	}
}

func TestJudgeErrorsApartAreNotThinned(t *testing.T) {
	// A 20% canary: every error apart is a trial of the fail side, and so
	// is every good request except the one right after an error; a pair
	// counts nothing.
	c := defaultCriteria()
	c.RunCap = 10
	c.ErrorThreshold, c.HealthyRate, c.MinSamples = 0.5, 0.25, 100_000 // keep it running
	ss := samples(1001, 5, time.Millisecond)                           // errors at 4, 9, ..., 999
	const pairs = 20.0
	for i := 0; i+7 < len(ss); i += 50 {
		ss[i+5].Err = true // pairs: requests 4 and 5 of every 50
	}
	j := NewJudge(c)
	j.Add(Batch{Canary: Obs{Samples: ss}})
	if j.State() != Running {
		t.Fatalf("%s: %s", j.State(), j.Evidence().Reason)
	}
	apart := j.errs - 2*pairs
	if j.errT.eventsFail != apart || j.errT.nFail != j.n-2*pairs-(apart+pairs) || j.skippedErr != 2*pairs {
		t.Errorf("fail side: %v errors in %v trials, %v left out; want %v in %v, %v", j.errT.eventsFail, j.errT.nFail, j.skippedErr, apart, j.n-2*pairs-(apart+pairs), 2*pairs)
	}
	// The errors apart are exactly what independent counting sees.
	ind := c
	ind.RunCap = 0
	k := NewJudge(ind)
	k.Add(Batch{Canary: Obs{Samples: samples(1001, 5, time.Millisecond)}})
	if j.errT.eventsFail != k.errT.eventsFail-pairs {
		t.Errorf("errors apart: %v counted, want %v (all but the %v that became pairs)", j.errT.eventsFail, k.errT.eventsFail-pairs, pairs)
	}
}

func TestJudgeFailWaitsForTheRunToEnd(t *testing.T) {
	c := defaultCriteria()
	c.RunCap = 10
	// Errors every 4th request (the last request good) until one more
	// error crosses the boundary.
	n := 5
	for ; n < 400; n += 4 {
		j := errorsThen(c, n, 4)
		if j.State() != Running {
			t.Fatalf("failed after %d requests before the test was set up", n)
		}
		if j.errT.toFail() == 1 {
			break
		}
	}
	// The crossing error alone does not decide: it may start a burst.
	j := errorsThen(c, n, 4, true)
	if j.State() != Running || j.errT.mixLLR() < j.errT.a {
		t.Fatalf("decided on the first error of a run: %s, ln M %.2f against %.2f", j.State(), j.errT.mixLLR(), j.errT.a)
	}
	// A good request ends the run: the value it reached counts.
	j = errorsThen(c, n, 4, true, false)
	if j.State() != Failed || j.Evidence().Samples != float64(n+2) {
		t.Fatalf("after the run ended: %s after %v requests, want fail after %d", j.State(), j.Evidence().Samples, n+2)
	}
	// A second error makes it a pair, which takes the run back; so does a
	// longer burst.
	for _, run := range [][]bool{{true, true, false}, {true, true, true, false}} {
		j = errorsThen(c, n, 4, run...)
		if j.State() != Running {
			t.Fatalf("a run of %d decided: %s: %s", len(run)-1, j.State(), j.Evidence().Reason)
		}
		if got := j.Evidence().RunSkippedErrors; got != float64(len(run)-1) {
			t.Errorf("run of %d then a good request: %v left out, want %d", len(run)-1, got, len(run)-1)
		}
	}
}

func TestJudgeBaselineErrorPassHeldToBeta(t *testing.T) {
	// The comparison passes when the mean of its two tests' 1/L reaches
	// 1/beta: either test alone must get to beta/2, together they may
	// share the evidence. Passing on either test's own beta (as before)
	// would miss up to 2·beta of the canaries it should catch.
	c := defaultCriteria()
	c.Baseline = true
	lb := math.Log(c.Beta)
	for _, tc := range []struct {
		name         string
		pair, floor  float64 // ln L of the two-count and the floor test
		wantAccepted bool
	}{
		{"floor test at beta, two-count test undecided", 0, lb, false},
		{"two-count test at beta, floor undecided", lb, 0, false},
		{"floor test at beta/2", 0, lb - math.Ln2, true},
		{"both at 0.6 beta", lb + math.Log(0.6), lb + math.Log(0.6), true},
		{"both at 1.2 beta", lb + math.Log(1.2), lb + math.Log(1.2), false},
	} {
		j := NewJudge(c)
		j.bn = 1 // baseline data seen
		j.baseErrT.llr[0], j.floorT.llr = tc.pair, tc.floor
		j.noteBaseErrPass()
		if got := j.baselineErrAccepted(); got != tc.wantAccepted {
			t.Errorf("%s: accepted %v, want %v", tc.name, got, tc.wantAccepted)
		}
	}
}

// A canary whose errors, or slow requests, all come in short runs (two of
// three pods down behind round robin: error, error, good, ...) is failed
// by the guard that counts each run once, though the main fail side
// counts nothing for a run.
func TestJudgeRunsEverywhereFail(t *testing.T) {
	for _, pattern := range []string{"EEG", "EEGG", "EEEG"} {
		for _, slow := range []bool{false, true} {
			c := defaultCriteria()
			c.RunCap = 10
			c.Latency = 300 * time.Millisecond
			j := NewJudge(c)
			n := 0
			for ; n < 3000 && j.State() == Running; n++ {
				bad := pattern[n%len(pattern)] == 'E'
				s := Sample{Latency: time.Millisecond, HasLatency: true}
				switch {
				case bad && slow:
					s.Latency = time.Second
				case bad:
					s.Err, s.Kind = true, "status 503"
				}
				j.Add(Batch{Canary: Obs{Samples: []Sample{s}}})
			}
			what := map[bool]string{false: "errors", true: "slow requests"}[slow]
			ev := j.Evidence()
			if j.State() != Failed || n > 60 {
				t.Errorf("%s as %s: %s after %d requests, want failed within 60: %s", pattern, what, j.State(), n, ev.Reason)
				continue
			}
			if !strings.Contains(ev.Reason, "counting each run of them once") {
				t.Errorf("%s as %s: reason does not say the runs were counted once: %s", pattern, what, ev.Reason)
			}
		}
	}
}
