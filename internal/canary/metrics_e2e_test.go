package canary

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/metricsource/promtest"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// loadWith is load with a chosen HTTP policy for the metric client.
func loadWith(t *testing.T, httpOpts httpx.Options, env map[string]string, args ...string) *Options {
	t.Helper()
	p, err := newWith(context.Background(), verbtest.Deps(env, nil, nil), args, httpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPrometheusEndToEnd runs the analysis against a real Prometheus
// scraping a service whose tracks have set error rates, while traffic
// flows in real time.
func TestPrometheusEndToEnd(t *testing.T) {
	st := promtest.StartStack(t, promtest.ServiceOptions{Tracks: map[string]promtest.Track{
		"stable": {ErrorRate: 0.01, Latency: 20 * time.Millisecond},
		"good":   {ErrorRate: 0.005, Latency: 20 * time.Millisecond},
		"bad":    {ErrorRate: 0.2, Latency: 30 * time.Millisecond},
	}}, promtest.Options{ScrapeInterval: 500 * time.Millisecond})
	// 200 requests a second per track, for at most a minute.
	ctx, stop := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(stop)
	go func() {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				for _, tr := range []string{"stable", "good", "bad"} {
					st.Service.Drive(tr, 20)
				}
			}
		}
	}()
	tests := []struct {
		track string
		want  State
	}{
		{"bad", Failed},
		{"good", Passed},
	}
	for _, tc := range tests {
		t.Run(tc.track, func(t *testing.T) {
			t.Parallel()
			p := loadWith(t, httpx.Options{Retries: 1, WaitMin: 50 * time.Millisecond}, nil,
				"--source", "prometheus", "--prometheus-url", st.Prometheus.URL,
				"--canary-selector", fmt.Sprintf(`{app="api",track=%q}`, tc.track),
				"--baseline-selector", `{app="api",track="stable"}`, "--baseline-margin", "100%",
				"--interval", "2s", "--max-duration", "40s", "--latency-threshold", "500ms")
			var out strings.Builder
			dir := t.TempDir()
			err := p.testRun(&out, nil, config.Reports{JSON: dir + "/r.json"})
			res := readResult(t, dir+"/r.json")
			if res.Verdict != tc.want {
				t.Fatalf("verdict %s (%v), want %s\n%s", res.Verdict, err, tc.want, out.String())
			}
			if res.Samples < 100 || res.LatencyMS == nil || res.Baseline == nil || tc.want == Passed && res.Baseline.Samples < 100 {
				t.Errorf("figures: %+v\n%s", res.Evidence, out.String())
			}
			t.Logf("%s\n", out.String())
		})
	}
}

// TestPrometheusFaults: a PromQL error is shown verbatim (exit 2), a
// server that is down or too slow cannot be read (exit 3), and neither
// runs long.
func TestPrometheusFaults(t *testing.T) {
	t.Run("syntax error from a real prometheus", func(t *testing.T) {
		st := promtest.StartStack(t, promtest.ServiceOptions{Tracks: map[string]promtest.Track{"canary": {}}}, promtest.Options{})
		p := loadWith(t, httpx.Options{Retries: -1}, nil, "--source", "prometheus", "--prometheus-url", st.Prometheus.URL,
			"--canary-selector", `{app="api"}`, "--total-query", `sum(increase(http_requests_total{$__selector}[$__window])) by`)
		err := p.testRun(nil, newFakeClock(), config.Reports{})
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "bad_data") || !strings.Contains(err.Error(), "parse error") {
			t.Fatalf("exit %d: %v", exitcode.Of(err), err)
		}
		t.Logf("message: %v", err)

		// A selector that matches nothing: no data each interval, then
		// inconclusive at max_duration (exit 1 with on_inconclusive fail).
		p = loadWith(t, httpx.Options{Retries: -1}, nil, "--source", "prometheus", "--prometheus-url", st.Prometheus.URL,
			"--canary-selector", `{app="no-such-app"}`, "--interval", "30s", "--max-duration", "2m")
		var out strings.Builder
		dir := t.TempDir()
		err = p.testRun(&out, newFakeClock(), config.Reports{JSON: dir + "/r.json"})
		res := readResult(t, dir+"/r.json")
		if exitcode.Of(err) != exitcode.Fail || res.Verdict != Inconclusive || !strings.Contains(res.Reason, "no traffic") {
			t.Fatalf("exit %d verdict %s: %v\n%s", exitcode.Of(err), res.Verdict, err, out.String())
		}
		if !strings.Contains(out.String(), "no series matched") {
			t.Errorf("the output does not say the query found no series:\n%s", out.String())
		}
	})
	t.Run("down", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		addr := l.Addr().String()
		l.Close()
		p := loadWith(t, httpx.Options{Retries: 1, WaitMin: 10 * time.Millisecond}, nil, "--source", "prometheus", "--prometheus-url", "http://"+addr,
			"--canary-selector", `{app="api"}`)
		err := p.testRun(nil, newFakeClock(), config.Reports{})
		if exitcode.Of(err) != exitcode.CouldNotRun || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("exit %d: %v", exitcode.Of(err), err)
		}
	})
	t.Run("slow", func(t *testing.T) {
		var hits atomic.Int64
		arrived := make(chan struct{}, 10)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			arrived <- struct{}{}
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}))
		t.Cleanup(srv.Close)
		// A timeout a loaded machine can send the request within.
		p := loadWith(t, httpx.Options{Retries: -1}, nil, "--source", "prometheus", "--prometheus-url", srv.URL,
			"--canary-selector", `{app="api"}`, "--timeout", "1s")
		err := p.testRun(nil, newFakeClock(), config.Reports{})
		if exitcode.Of(err) != exitcode.CouldNotRun {
			t.Fatalf("exit %d: %v", exitcode.Of(err), err)
		}
		// The server may reach the given-up request's handler after the
		// run has ended.
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatal("the request never reached the server")
		}
		if hits.Load() != 1 {
			t.Errorf("%d requests", hits.Load())
		}
	})
}

// datadogStandIn answers GET /api/v1/query in the documented shape; fail
// decides an error response for the n-th request.
type datadogStandIn struct {
	hits, errs float64
	latency    float64 // seconds
	fail       func(n int64, w http.ResponseWriter) bool
	n          atomic.Int64
	keys       atomic.Value // the last DD-API-KEY seen
}

func (d *datadogStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := d.n.Add(1)
	d.keys.Store(r.Header.Get("DD-API-KEY"))
	if r.URL.Path != "/api/v1/query" {
		http.NotFound(w, r)
		return
	}
	if d.fail != nil && d.fail(n, w) {
		return
	}
	q := r.URL.Query().Get("query")
	v := d.hits
	switch {
	case strings.Contains(q, ".errors"):
		v = d.errs
	case strings.HasPrefix(q, "p9") || strings.HasPrefix(q, "p5"):
		v = d.latency
	}
	to := r.URL.Query().Get("to")
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"status": "ok", "res_type": "time_series", "query": q,
		"series": []map[string]any{{"metric": "trace.http.request.hits", "scope": "service:api", "pointlist": [][2]any{{json.Number(to + "000"), v}}}},
	})
}

func TestDatadog(t *testing.T) {
	env := map[string]string{"DD_API_KEY": "ddapikey-0123456789", "DD_APP_KEY": "ddappkey-0123456789"}
	tests := []struct {
		name string
		dd   *datadogStandIn
		want State
		code int
		msg  string
	}{
		{"bad canary fails", &datadogStandIn{hits: 300, errs: 30, latency: 0.05}, Failed, exitcode.Fail, "error rate"},
		{"healthy canary passes", &datadogStandIn{hits: 300, errs: 1, latency: 0.05}, Passed, exitcode.Pass, ""},
		{"403 cannot run", &datadogStandIn{fail: func(_ int64, w http.ResponseWriter) bool {
			w.WriteHeader(403)
			w.Write([]byte(`{"errors":["Forbidden"]}`))
			return true
		}}, "", exitcode.CouldNotRun, "DD_API_KEY"},
		{"429 once is waited out", &datadogStandIn{hits: 300, errs: 1, latency: 0.05, fail: func(n int64, w http.ResponseWriter) bool {
			if n != 3 {
				return false
			}
			w.Header().Set("X-RateLimit-Limit", "100")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset", "0")
			w.WriteHeader(429)
			w.Write([]byte(`{"errors":["Rate limit exceeded"]}`))
			return true
		}}, Passed, exitcode.Pass, ""},
		{"429 every time fails after the limit", &datadogStandIn{hits: 300, errs: 1, fail: func(n int64, w http.ResponseWriter) bool {
			if n <= 3 { // the check before the analysis
				return false
			}
			w.Header().Set("X-RateLimit-Reset", "0")
			w.WriteHeader(429)
			w.Write([]byte(`{"errors":["Rate limit exceeded"]}`))
			return true
		}}, Failed, exitcode.Fail, "consecutive failed reads"},
		{"403 during the analysis fails at once", &datadogStandIn{hits: 300, errs: 1, fail: func(n int64, w http.ResponseWriter) bool {
			if n <= 3 { // the check before the analysis
				return false
			}
			w.WriteHeader(403)
			w.Write([]byte(`{"errors":["Forbidden"]}`))
			return true
		}}, Failed, exitcode.Fail, "asking again cannot help"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.dd)
			t.Cleanup(srv.Close)
			p := loadWith(t, httpx.Options{Retries: 1, WaitMin: 10 * time.Millisecond, WaitMax: 100 * time.Millisecond}, env,
				"--source", "datadog", "--dd-site", srv.URL, "--canary-selector", "service:api,version:canary", "--latency-threshold", "200ms")
			red := p.d.Redactor
			var out strings.Builder
			dir := t.TempDir()
			err := p.testRun(&out, newFakeClock(), config.Reports{JSON: dir + "/r.json"})
			res := readResult(t, dir+"/r.json")
			if exitcode.Of(err) != tc.code || tc.want != "" && res.Verdict != tc.want {
				t.Fatalf("exit %d verdict %s (%v)\n%s", exitcode.Of(err), res.Verdict, err, out.String())
			}
			all := out.String()
			if err != nil {
				all += red.Redact(err.Error())
			}
			if !strings.Contains(all, tc.msg) {
				t.Errorf("output lacks %q:\n%s", tc.msg, all)
			}
			if strings.Contains(all, env["DD_API_KEY"]) || strings.Contains(all, env["DD_APP_KEY"]) {
				t.Errorf("a key leaked:\n%s", all)
			}
			if tc.dd.keys.Load() != env["DD_API_KEY"] {
				t.Errorf("the stand-in saw API key %v", tc.dd.keys.Load())
			}
		})
	}
}
