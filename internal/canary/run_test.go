package canary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/metricsource"
)

func readResult(t *testing.T, path string) *Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		return &Result{}
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report %s: %v", path, err)
	}
	return &r
}

// fakeClock moves only when slept on, so interval-driven runs take no time.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	c.slept += d
	return nil
}

// fakeMetrics answers each read from a script: counts per call, or an error.
type fakeMetrics struct {
	mu      sync.Mutex
	counts  func(call int, sel string) (metricsource.Counts, error)
	latency func(call int, sel string) (time.Duration, error)
	calls   map[string]int
	windows []time.Duration
}

func (f *fakeMetrics) Counts(_ context.Context, sel string, w metricsource.Window) (metricsource.Counts, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[sel]++
	f.windows = append(f.windows, w.Length)
	return f.counts(f.calls[sel], sel)
}

func (f *fakeMetrics) Latency(_ context.Context, sel string, _ float64, _ metricsource.Window) (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.latency == nil {
		return 20 * time.Millisecond, nil
	}
	return f.latency(f.calls[sel], sel)
}

func metricPlan(t *testing.T, m metricsource.Source) *Options {
	t.Helper()
	p, err := load(t, nil, "--source", "prometheus", "--prometheus-url", "http://prom.test", "--canary-selector", `{track="canary"}`,
		"--max-duration", "5m", "--interval", "30s", "--source-error-limit", "3")
	if err != nil {
		t.Fatal(err)
	}
	p.Criteria = defaultCriteria()
	p.Criteria.PerRequest = false
	p.Metrics = m
	return p
}

func runMetric(t *testing.T, p *Options) (*Result, *fakeClock, string, []events.Event, error) {
	t.Helper()
	dir := t.TempDir()
	log, err := events.Open(dir+"/events.jsonl", jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	clk := newFakeClock()
	var out strings.Builder
	p.events = log
	err = p.testRun(&out, clk, config.Reports{JSON: dir + "/r.json", JUnit: dir + "/r.xml"})
	evs, _, rerr := events.ReadFiles(dir + "/events.jsonl")
	if rerr != nil {
		t.Fatal(rerr)
	}
	return readResult(t, dir+"/r.json"), clk, out.String(), evs, err
}

func TestMetricVerdicts(t *testing.T) {
	tests := []struct {
		name      string
		counts    func(int, string) (metricsource.Counts, error)
		onInconcl string
		want      State
		code      int
		event     string
	}{
		{"bad canary fails", func(int, string) (metricsource.Counts, error) {
			return metricsource.Counts{Total: 300, Errors: 30}, nil
		}, "fail", Failed, exitcode.Fail, "canary_failed"},
		{"healthy canary passes", func(int, string) (metricsource.Counts, error) { return metricsource.Counts{Total: 300, Errors: 1}, nil }, "fail", Passed, exitcode.Pass, "canary_passed"},
		{"no traffic is inconclusive", func(int, string) (metricsource.Counts, error) { return metricsource.Counts{}, nil }, "fail", Inconclusive, exitcode.Fail, "canary_inconclusive"},
		{"no series is inconclusive", func(int, string) (metricsource.Counts, error) {
			return metricsource.Counts{}, &metricsource.NoDataError{Source: "prometheus", Query: "q", Reason: "no series matched"}
		}, "fail", Inconclusive, exitcode.Fail, "canary_inconclusive"},
		{"inconclusive may pass", func(int, string) (metricsource.Counts, error) { return metricsource.Counts{}, nil }, "pass", Inconclusive, exitcode.Pass, "canary_inconclusive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := metricPlan(t, &fakeMetrics{counts: tc.counts})
			p.OnInconclusive = tc.onInconcl
			res, clk, out, evs, err := runMetric(t, p)
			if res.Verdict != tc.want || exitcode.Of(err) != tc.code {
				t.Fatalf("verdict %s exit %d (%v), want %s exit %d\n%s", res.Verdict, exitcode.Of(err), err, tc.want, tc.code, out)
			}
			// Nothing runs past max_duration (plus one interval).
			if clk.slept > p.MaxDuration.Duration+p.Interval.Duration {
				t.Errorf("slept %v, past max_duration %v + interval", clk.slept, p.MaxDuration)
			}
			if len(evs) != 2 || evs[0].Event != "canary_started" || evs[1].Event != tc.event {
				t.Fatalf("events %+v", evs)
			}
			f := evs[1].Figures
			for _, k := range []string{"error_rate", "threshold", "samples", "errors", "elapsed_s", "reason"} {
				if _, ok := f[k]; !ok {
					t.Errorf("event lacks figure %s: %v", k, f)
				}
			}
			if !strings.Contains(out, "canary "+strings.ToUpper(map[State]string{Passed: "passed", Failed: "failed", Inconclusive: "inconclusive"}[tc.want])) {
				t.Errorf("output lacks the verdict:\n%s", out)
			}
		})
	}
}

func TestMetricSourceErrors(t *testing.T) {
	t.Run("consecutive failures fail the canary", func(t *testing.T) {
		m := &fakeMetrics{counts: func(call int, _ string) (metricsource.Counts, error) {
			if call == 1 { // the check before the analysis
				return metricsource.Counts{}, nil
			}
			return metricsource.Counts{}, errors.New("prometheus: 503 Service Unavailable")
		}}
		res, _, out, _, err := runMetric(t, metricPlan(t, m))
		if res.Verdict != Failed || res.Check != "source" || exitcode.Of(err) != exitcode.Fail {
			t.Fatalf("verdict %s by %q, err %v\n%s", res.Verdict, res.Check, err, out)
		}
		if res.SourceErrors != 3 || !strings.Contains(res.Reason, "3 consecutive failed reads") {
			t.Errorf("source errors %d, reason %q", res.SourceErrors, res.Reason)
		}
	})
	// Figures that are no request counts (a query giving a ratio, an
	// infinite rate, a negative delta) are failed reads, never requests.
	for _, bad := range []metricsource.Counts{{Total: math.Inf(1), Errors: 1}, {Total: 300, Errors: math.NaN()}, {Total: -20, Errors: 0}, {Total: 300, Errors: math.Inf(1)}} {
		t.Run(fmt.Sprintf("counts %v", bad), func(t *testing.T) {
			m := &fakeMetrics{counts: func(call int, _ string) (metricsource.Counts, error) {
				if call == 1 {
					return metricsource.Counts{}, nil
				}
				return bad, nil
			}}
			res, _, out, _, err := runMetric(t, metricPlan(t, m))
			if res.Verdict != Failed || res.Check != "source" || exitcode.Of(err) != exitcode.Fail || res.Samples != 0 {
				t.Fatalf("verdict %s by %q, %v samples, err %v\n%s", res.Verdict, res.Check, res.Samples, err, out)
			}
			if !strings.Contains(res.Reason, "not request counts") {
				t.Errorf("reason %q", res.Reason)
			}
		})
	}
	// A canary failing every request may show a few more errors than
	// requests: they count as every request failed.
	t.Run("more errors than requests", func(t *testing.T) {
		m := &fakeMetrics{counts: func(int, string) (metricsource.Counts, error) {
			return metricsource.Counts{Total: 300, Errors: 302}, nil
		}}
		res, _, out, _, _ := runMetric(t, metricPlan(t, m))
		if res.Verdict != Failed || res.Errors != res.Samples || !strings.Contains(out, "302 errors of 300 requests") {
			t.Fatalf("verdict %s, %v errors of %v\n%s", res.Verdict, res.Errors, res.Samples, out)
		}
		// The same read without latency data says both.
		m = &fakeMetrics{counts: m.counts, latency: func(int, string) (time.Duration, error) { return 0, metricsource.ErrNoData }}
		_, _, out, _, _ = runMetric(t, metricPlan(t, m))
		if !strings.Contains(out, "302 errors of 300 requests") || !strings.Contains(out, metricsource.ErrNoData.Error()) {
			t.Errorf("a read's notes are not all said:\n%s", out)
		}
	})
	t.Run("a success resets the count", func(t *testing.T) {
		m := &fakeMetrics{counts: func(call int, _ string) (metricsource.Counts, error) {
			if call == 1 || call%3 == 0 {
				return metricsource.Counts{Total: 300, Errors: 1}, nil
			}
			return metricsource.Counts{}, errors.New("timeout")
		}}
		res, _, out, _, _ := runMetric(t, metricPlan(t, m))
		if res.Verdict != Passed {
			t.Fatalf("verdict %s: %s\n%s", res.Verdict, res.Reason, out)
		}
	})
	for _, tc := range []struct {
		name string
		err  error
		code int
	}{
		{"bad query is bad input", &metricsource.QueryError{Source: "prometheus", Status: 400, Type: "bad_data", Message: `1:10: parse error: unexpected "}"`, Query: "sum(x"}, exitcode.BadInput},
		{"refused credentials cannot run", &metricsource.AuthError{Source: "prometheus", Status: 401, Hint: "check the token"}, exitcode.CouldNotRun},
		{"unreachable cannot run", errors.New("dial tcp 127.0.0.1:9: connection refused"), exitcode.CouldNotRun},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &fakeMetrics{counts: func(int, string) (metricsource.Counts, error) { return metricsource.Counts{}, tc.err }}
			_, clk, _, evs, err := runMetric(t, metricPlan(t, m))
			if exitcode.Of(err) != tc.code {
				t.Fatalf("exit %d (%v), want %d", exitcode.Of(err), err, tc.code)
			}
			if qe := (*metricsource.QueryError)(nil); errors.As(tc.err, &qe) && !strings.Contains(err.Error(), qe.Message) {
				t.Errorf("the server's message is not shown verbatim: %v", err)
			}
			if clk.slept != 0 {
				t.Errorf("waited %v before giving up", clk.slept)
			}
			if len(evs) != 2 || evs[1].Event != "canary_inconclusive" {
				t.Errorf("events %+v", evs)
			}
		})
	}
}

func TestMetricLastIntervalIsCutAtMaxDuration(t *testing.T) {
	m := &fakeMetrics{counts: func(int, string) (metricsource.Counts, error) { return metricsource.Counts{Total: 10}, nil }}
	p := metricPlan(t, m)
	p.MaxDuration.Duration = 100 * time.Second // 3 intervals of 30 s and one of 10 s
	p.Criteria.MinSamples = 1000
	res, clk, _, _, _ := runMetric(t, p)
	if res.Verdict != Inconclusive {
		t.Fatalf("verdict %s", res.Verdict)
	}
	if clk.slept != p.MaxDuration.Duration {
		t.Errorf("slept %v, want exactly max_duration %v", clk.slept, p.MaxDuration)
	}
	if last := m.windows[len(m.windows)-1]; last != 10*time.Second {
		t.Errorf("last window %v, want the 10s left", last)
	}
}

func TestMetricBaseline(t *testing.T) {
	m := &fakeMetrics{counts: func(_ int, sel string) (metricsource.Counts, error) {
		if sel == "base" {
			return metricsource.Counts{Total: 3000, Errors: 10}, nil
		}
		return metricsource.Counts{Total: 300, Errors: 4}, nil // 1.3%: passes the absolute test, 4x the baseline
	}}
	p := metricPlan(t, m)
	p.BaselineSelector = "base"
	p.Criteria.Baseline = true
	// Its own healthy rate is 0.5%: a canary under that is never failed for
	// being worse than its baseline.
	p.Criteria.ErrorThreshold, p.Criteria.HealthyRate = 0.05, 0.005
	res, _, out, _, _ := runMetric(t, p)
	if res.Verdict != Failed || res.Check != "baseline error rate" || res.Baseline == nil {
		t.Fatalf("verdict %s by %q: %s\n%s", res.Verdict, res.Check, res.Reason, out)
	}
}

func TestJUnitReport(t *testing.T) {
	m := &fakeMetrics{counts: func(int, string) (metricsource.Counts, error) {
		return metricsource.Counts{Total: 300, Errors: 30}, nil
	}}
	p := metricPlan(t, m)
	p.Criteria.Latency = time.Second
	dir := t.TempDir()
	err := p.testRun(nil, newFakeClock(), config.Reports{JUnit: dir + "/j.xml"})
	if exitcode.Of(err) != exitcode.Fail {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dir + "/j.xml")
	if err != nil {
		t.Fatal(err)
	}
	x := string(b)
	if !strings.Contains(x, `tests="2"`) || !strings.Contains(x, `failures="1"`) || !strings.Contains(x, "canary FAILED") {
		t.Errorf("junit:\n%s", x)
	}
}

// bucketMetrics is fakeMetrics with histogram buckets.
type bucketMetrics struct {
	fakeMetrics
	slow func(sel string) (metricsource.Slow, error)
}

func (b *bucketMetrics) Slower(_ context.Context, sel string, _ time.Duration, _ metricsource.Window) (metricsource.Slow, error) {
	return b.slow(sel)
}

func TestMetricLatencyFromBuckets(t *testing.T) {
	counts := func(int, string) (metricsource.Counts, error) { return metricsource.Counts{Total: 300}, nil }
	// 20% slower than the threshold by the buckets, while the percentile
	// query says 20 ms: the buckets decide, in one interval.
	m := &bucketMetrics{fakeMetrics: fakeMetrics{counts: counts}, slow: func(string) (metricsource.Slow, error) {
		return metricsource.Slow{Lo: 60, Hi: 60, Total: 300}, nil
	}}
	p := metricPlan(t, m)
	p.Criteria.Latency = 100 * time.Millisecond
	res, clk, out, _, _ := runMetric(t, p)
	if res.Verdict != Failed || res.Check != "latency" || clk.slept != 30*time.Second {
		t.Fatalf("verdict %s by %q after %v: %s\n%s", res.Verdict, res.Check, clk.slept, res.Reason, out)
	}
	// No histogram: noted once, and the percentile is judged instead
	// (intervals under the threshold pass).
	m = &bucketMetrics{fakeMetrics: fakeMetrics{counts: counts}, slow: func(string) (metricsource.Slow, error) {
		return metricsource.Slow{}, &metricsource.NoDataError{Source: "prometheus", Query: "q", Reason: "no series matched"}
	}}
	p = metricPlan(t, m)
	p.Criteria.Latency = 100 * time.Millisecond
	res, _, out, _, _ = runMetric(t, p)
	if res.Verdict != Passed || strings.Count(out, "no latency histogram buckets") != 1 {
		t.Fatalf("verdict %s: %s\n%s", res.Verdict, res.Reason, out)
	}
}

// A metric source's latency read as one percentile per interval needs a
// number of intervals to fail a slow canary; a max_duration shorter than
// that is said up front.
func TestMetricIntervalsNote(t *testing.T) {
	for _, tc := range []struct {
		maxDur time.Duration
		warn   bool
	}{{5 * time.Minute, false}, {2 * time.Minute, true}} {
		p := metricPlan(t, &fakeMetrics{counts: func(int, string) (metricsource.Counts, error) {
			return metricsource.Counts{Total: 300, Errors: 1}, nil
		}})
		p.Criteria.Latency = 300 * time.Millisecond
		p.MaxDuration.Duration = tc.maxDur
		_, _, out, _, _ := runMetric(t, p)
		if !strings.Contains(out, "failing a slow canary takes at least") {
			t.Errorf("max_duration %v: no note of the intervals a fail needs:\n%s", tc.maxDur, out)
		}
		if got := strings.Contains(out, "too few for the latency (without histogram buckets) check"); got != tc.warn {
			t.Errorf("max_duration %v: warning %v, want %v:\n%s", tc.maxDur, got, tc.warn, out)
		}
	}
}

// TestMetricQueryOfTheWrongShape: a query the server runs but whose result
// cannot be one figure (several series, a range vector) is bad input
// before the analysis, like a malformed one: the query must change.
func TestMetricQueryOfTheWrongShape(t *testing.T) {
	for name, result := range map[string]string{
		"several series": `"resultType":"vector","result":[{"metric":{"pod":"a"},"value":[1700000000,"10"]},{"metric":{"pod":"b"},"value":[1700000000,"12"]}]`,
		"a range vector": `"resultType":"matrix","result":[{"metric":{},"values":[[1700000000,"10"]]}]`,
	} {
		t.Run(name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"status":"success","data":{%s}}`, result)
			}))
			t.Cleanup(srv.Close)
			p, err := load(t, nil, "--source", "prometheus", "--prometheus-url", srv.URL, "--canary-selector", `{track="canary"}`,
				"--total-query", `increase(http_requests_total{$__selector}[$__window])`)
			if err != nil {
				t.Fatal(err)
			}
			_, clk, out, _, err := runMetric(t, p)
			if exitcode.Of(err) != exitcode.BadInput || clk.slept != 0 {
				t.Fatalf("exit %d after %v: %v\n%s", exitcode.Of(err), clk.slept, err, out)
			}
			if !strings.Contains(err.Error(), "want a vector or scalar") && !strings.Contains(err.Error(), "aggregate it") {
				t.Errorf("message %v", err)
			}
		})
	}
}
