package canary

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/probe"
)

// service is a loopback canary: every n-th request fails with 500, and
// stall, when set, decides how long a request waits before answering.
type service struct {
	errEvery int
	stall    func(i int64) time.Duration
	n        atomic.Int64
}

func (s *service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := s.n.Add(1)
	if s.stall != nil {
		if d := s.stall(i); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
	}
	if s.errEvery > 0 && i%int64(s.errEvery) == 0 {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Write([]byte("ok\n"))
}

func startService(t *testing.T, s *service) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}

func probePlan(t *testing.T, url string, rate float64) *Options {
	t.Helper()
	p, err := load(t, nil, "--url", url, "--rate", fmt.Sprint(rate), "--max-duration", "20s", "--concurrency", "20", "--timeout", "2s")
	if err != nil {
		t.Fatal(err)
	}
	p.Criteria = defaultCriteria()
	p.Criteria.MinSamples = 50
	return p
}

func runPlan(t *testing.T, p *Options) (*Result, string, error) {
	t.Helper()
	dir := t.TempDir()
	var out strings.Builder
	err := p.testRun(&syncWriter{w: &out}, nil, config.Reports{JSON: dir + "/r.json"})
	res := readResult(t, dir+"/r.json")
	return res, out.String(), err
}

// testRun runs o writing its output to out (nil discards) and its reports
// to r, on clk (nil: the wall clock).
func (o *Options) testRun(out io.Writer, clk Clock, r config.Reports) error {
	if out == nil {
		out = io.Discard
	}
	o.d.Stdout, o.Clock, o.Reports = out, clk, r
	return Run(context.Background(), o)
}

func TestProbeVerdicts(t *testing.T) {
	// slowEvery makes every n-th request take 1.2 s; the 600 ms threshold
	// sits far from both that and a fast request, so a loaded machine's
	// hiccups (the probe measures its own delays too) do not decide the test.
	slowEvery := func(n int64) func(int64) time.Duration {
		return func(i int64) time.Duration {
			if i%n == 0 {
				return 1200 * time.Millisecond
			}
			return 0
		}
	}
	tests := []struct {
		name     string
		svc      *service
		rate     float64
		latency  time.Duration // p95 threshold; 0: none
		want     State
		check    string
		maxReq   float64
		wantKind string
	}{
		{"one in five fails", &service{errEvery: 5}, 50, 0, Failed, "error rate", 100, "status 500"},
		{"healthy passes", &service{errEvery: 1000}, 200, 0, Passed, "all", 1000, ""},
		{"one in five slow fails p95", &service{stall: slowEvery(5)}, 100, 600 * time.Millisecond, Failed, "latency", 200, ""},
		{"one in a hundred slow passes p95", &service{stall: slowEvery(100)}, 200, 600 * time.Millisecond, Passed, "all", 1500, ""},
	}
	for _, tc := range tests {
		// One at a time: the probe measures its own scheduling delays too,
		// and a sibling's traffic in the same process would add to them.
		t.Run(tc.name, func(t *testing.T) {
			url := startService(t, tc.svc)
			p := probePlan(t, url, tc.rate)
			p.Criteria.Latency = tc.latency
			p.Timeout.Duration = 5 * time.Second
			p.Concurrency = 50
			res, out, err := runPlan(t, p)
			if res.Verdict != tc.want || res.Check != tc.check {
				t.Fatalf("verdict %s (%v), want %s\n%s", res.Verdict, err, tc.want, out)
			}
			if (err == nil) != (tc.want == Passed) {
				t.Errorf("error %v for verdict %s", err, res.Verdict)
			}
			if res.Samples > tc.maxReq {
				t.Errorf("decided after %v requests, want at most %v", res.Samples, tc.maxReq)
			}
			if tc.wantKind != "" && res.ErrorKinds[tc.wantKind] == 0 {
				t.Errorf("error kinds %v lack %q", res.ErrorKinds, tc.wantKind)
			}
			if res.LatencyMS == nil {
				t.Error("no latency reported")
			}
		})
	}
}

func TestProbeConnectionRefused(t *testing.T) {
	// A port that was just free: nothing listens there.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/"
	l.Close()
	res, out, err := runPlan(t, probePlan(t, url, 20))
	if res.Verdict != Failed || err == nil {
		t.Fatalf("verdict %s, err %v\n%s", res.Verdict, err, out)
	}
	if res.ErrorKinds["connection refused"] == 0 {
		t.Errorf("error kinds %v", res.ErrorKinds)
	}
	if res.LatencyMS != nil {
		t.Errorf("refused connections gave a latency %v", *res.LatencyMS)
	}
}

// TestProbeStalls: a service that stalls every request for 300 ms must fail
// the latency test with the stalls in its p95, and a timeout shorter than
// the stall must count as errors. Every request stalls, not only those after
// a fast start: the latency test may fail early (a sequential test), and on
// a loaded machine a fast start's own scheduling delays can cross a 100 ms
// threshold before any stall has been seen.
func TestProbeStalls(t *testing.T) {
	t.Run("latency", func(t *testing.T) {
		t.Parallel()
		svc := &service{stall: func(int64) time.Duration { return 300 * time.Millisecond }}
		p := probePlan(t, startService(t, svc), 50)
		p.Criteria.Latency = 100 * time.Millisecond
		// A timeout far past the stall: a slow machine's late answers stay
		// latencies, never errors that the error-rate test could judge first.
		p.Timeout.Duration = 10 * time.Second
		res, out, err := runPlan(t, p)
		if res.Verdict != Failed || res.Check != "latency" || err == nil {
			t.Fatalf("verdict %s by %q\n%s", res.Verdict, res.Check, out)
		}
		if res.LatencyMS == nil || *res.LatencyMS < 300 {
			t.Errorf("p95 %s ms does not include the 300 ms stalls", msOf(res.LatencyMS))
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		svc := &service{stall: func(int64) time.Duration { return time.Second }}
		p := probePlan(t, startService(t, svc), 50)
		p.Timeout.Duration = 100 * time.Millisecond
		res, out, _ := runPlan(t, p)
		if res.Verdict != Failed || res.ErrorKinds["timeout"] == 0 {
			t.Fatalf("verdict %s, kinds %v\n%s", res.Verdict, res.ErrorKinds, out)
		}
	})
}

// TestProbeOpenLoop checks that latency runs from the scheduled time: with
// one slot and a service that takes 50 ms, requests scheduled every 10 ms
// queue up, and their measured latency grows with the queue instead of
// staying at 50 ms as a closed-loop client would report.
func TestProbeOpenLoop(t *testing.T) {
	svc := &service{stall: func(int64) time.Duration { return 50 * time.Millisecond }}
	url := startService(t, svc)
	st, _ := config.ParseStatusSet("2xx")
	pr := probe.New(probe.Config{Timeout: 5 * time.Second, NoFollow: true})
	p := NewProbe(ProbeOptions{Prober: pr, URL: url, Expect: st, Rate: 100, Concurrency: 1, Tick: 20 * time.Millisecond})
	if err := p.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var got []Sample
	for len(got) < 10 {
		b, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b.Canary.Samples...)
	}
	p.Close()
	// The 10th request was scheduled at 90 ms but could only start once the
	// nine before it had each taken 50 ms: about 450 ms after its schedule.
	if got[9].Latency < 300*time.Millisecond {
		t.Errorf("10th request latency %v: the queueing delay is missing", got[9].Latency)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Latency < got[i-1].Latency-10*time.Millisecond {
			t.Errorf("latencies do not grow with the queue: %v then %v", got[i-1].Latency, got[i].Latency)
		}
	}
}

func TestProbeHandsOverInScheduleOrder(t *testing.T) {
	tr := newTrack("x")
	tr.done[1] = Sample{Kind: "b"}
	tr.done[2] = Sample{Kind: "c"}
	if got := tr.take(); len(got) != 0 {
		t.Fatalf("handed over %v before request 0 finished", got)
	}
	tr.done[0] = Sample{Kind: "a"}
	got := tr.take()
	if len(got) != 3 || got[0].Kind != "a" || got[2].Kind != "c" {
		t.Fatalf("got %v", got)
	}
}

func TestProbeSendsHeadersAndUserAgent(t *testing.T) {
	var mu sync.Mutex
	var seen http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = r.Header.Clone()
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	p := probePlan(t, srv.URL, 100)
	p.Header.Set("X-Canary", "always")
	p.MaxDuration.Duration = time.Second
	runPlan(t, p) // verbtest.Deps runs version "test"
	mu.Lock()
	defer mu.Unlock()
	if seen.Get("X-Canary") != "always" || seen.Get("User-Agent") != "pmguard/test" {
		t.Errorf("headers %v", seen)
	}
}

// syncWriter lets the probe's goroutines and the test share a builder.
type syncWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func msOf(v *float64) string {
	if v == nil {
		return "none"
	}
	return fmt.Sprint(*v)
}

// hang is a loopback canary that never answers: each request waits until
// the client gives up (or the test ends). It counts the requests it got and
// those the client cut short.
type hang struct {
	got, cut atomic.Int64
	release  chan struct{}
}

func startHang(t *testing.T) (*hang, string) {
	t.Helper()
	h := &hang{release: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.got.Add(1)
		select {
		case <-r.Context().Done():
			h.cut.Add(1)
		case <-h.release:
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(h.release) })
	return h, srv.URL
}

// TestHungCanaryFails: a canary that answers no request fails on its
// timeouts, even with on_inconclusive pass; it is not "no traffic". With a
// timeout over half max_duration only the warm-up times out in time (and
// the probe's start leaves it some slack on a loaded machine).
func TestHungCanaryFails(t *testing.T) {
	for _, tc := range []struct {
		name, timeout, maxDuration string
	}{
		{"many timeouts", "300ms", "20s"},
		{"only the warm-up times out", "2s", "3500ms"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, url := startHang(t)
			p, err := load(t, nil, "--url", url, "--rate", "20", "--concurrency", "20", "--timeout", tc.timeout,
				"--max-duration", tc.maxDuration, "--on-inconclusive", "pass")
			if err != nil {
				t.Fatal(err)
			}
			res, out, err := runPlan(t, p)
			if res.Verdict != Failed || exitcode.Of(err) != exitcode.Fail {
				t.Fatalf("verdict %s (%v), want a fail\n%s", res.Verdict, err, out)
			}
			if res.ErrorKinds["timeout"] == 0 || res.Errors != res.Samples {
				t.Errorf("error kinds %v, %v errors of %v requests: want every request a timeout", res.ErrorKinds, res.Errors, res.Samples)
			}
			if strings.Contains(res.Reason, "no traffic") {
				t.Errorf("reason %q", res.Reason)
			}
			if h.got.Load() == 0 {
				t.Error("the canary got no request")
			}
		})
	}
}

// TestProbeWarmUpEndsWithTheAnalysis: the warm-up request is cut when the
// analysis's context ends, whatever the request timeout, and a request cut
// that way is not judged.
func TestProbeWarmUpEndsWithTheAnalysis(t *testing.T) {
	h, url := startHang(t)
	st, _ := config.ParseStatusSet("2xx")
	pr := probe.New(probe.Config{Timeout: time.Hour, NoFollow: true})
	p := NewProbe(ProbeOptions{Prober: pr, URL: url, Expect: st, Rate: 10, Concurrency: 1, Tick: 10 * time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- p.Start(ctx) }()
	// A generous margin past the analysis's end, as a context: Start must
	// have returned long before it.
	margin, stop := context.WithTimeout(context.WithoutCancel(ctx), 20*time.Second)
	defer stop()
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-margin.Done():
		t.Fatal("Start was still waiting on the warm-up long after the analysis ended")
	}
	if ctx.Err() == nil {
		t.Fatal("Start returned before the analysis ended: the warm-up was answered?")
	}
	b, err := p.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if len(b.Canary.Samples) != 0 {
		t.Errorf("a warm-up cut by the analysis's end was judged: %v", b.Canary.Samples)
	}
	if h.got.Load() == 0 {
		t.Error("no warm-up request was sent")
	}
}

// TestProbeJudgesAFailedWarmUp: a warm-up answered with an unexpected
// status is the first judged request; an answered one is not judged.
func TestProbeJudgesAFailedWarmUp(t *testing.T) {
	for _, tc := range []struct {
		name      string
		first     int // status of the warm-up
		wantFirst string
	}{
		{"failed warm-up", http.StatusServiceUnavailable, "status 503"},
		{"answered warm-up", http.StatusOK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					w.WriteHeader(tc.first)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			t.Cleanup(srv.Close)
			st, _ := config.ParseStatusSet("2xx")
			pr := probe.New(probe.Config{Timeout: 5 * time.Second, NoFollow: true})
			p := NewProbe(ProbeOptions{Prober: pr, URL: srv.URL, Expect: st, Rate: 100, Concurrency: 1, Tick: 10 * time.Millisecond})
			if err := p.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			var got []Sample
			for len(got) < 3 {
				b, err := p.Next(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, b.Canary.Samples...)
			}
			p.Close()
			if got[0].Kind != tc.wantFirst || got[0].Err != (tc.wantFirst != "") {
				t.Errorf("first judged request %+v, want kind %q", got[0], tc.wantFirst)
			}
			for _, s := range got[1:] {
				if s.Err {
					t.Errorf("a request after the warm-up failed: %+v", s)
				}
			}
		})
	}
}

// TestProbeJudgesRequestsInFlightAtMaxDuration: a request sent before
// max_duration and answered after it is waited for and judged, as is every
// request the canary got (but the warm-up, answered as expected): none is
// dropped for being slow at the end.
func TestProbeJudgesRequestsInFlightAtMaxDuration(t *testing.T) {
	svc := &service{stall: func(int64) time.Duration { return 150 * time.Millisecond }}
	url := startService(t, svc)
	p, err := load(t, nil, "--url", url, "--rate", "40", "--concurrency", "20", "--timeout", "1s",
		"--max-duration", "1500ms", "--min-samples", "1000", "--on-inconclusive", "pass")
	if err != nil {
		t.Fatal(err)
	}
	res, out, err := runPlan(t, p)
	if err != nil || res.Verdict != Inconclusive {
		t.Fatalf("verdict %s (%v)\n%s", res.Verdict, err, out)
	}
	if res.Samples < 20 {
		t.Fatalf("%v requests judged: too few to tell\n%s", res.Samples, out)
	}
	if got, sent := res.Samples, svc.n.Load()-1; int64(got) != sent {
		t.Errorf("%v requests judged of %d the canary got after the warm-up\n%s", got, sent, out)
	}
	if testing.Verbose() {
		t.Log(out)
	}
}
