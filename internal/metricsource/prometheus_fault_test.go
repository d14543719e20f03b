package metricsource_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/metricsource"
)

// fakeProm answers the query API from a function and records what it got.
type fakeProm struct {
	mu      sync.Mutex
	queries []string
	auth    []string
	calls   atomic.Int32
	answer  func(w http.ResponseWriter, r *http.Request)
}

func newFakeProm(t *testing.T, answer func(w http.ResponseWriter, r *http.Request)) (*fakeProm, string) {
	f := &fakeProm{answer: answer}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		_ = r.ParseForm()
		f.mu.Lock()
		f.queries = append(f.queries, r.Form.Get("query"))
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		f.mu.Unlock()
		f.answer(w, r)
	}))
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func vector(v string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.5,%q]}]}}`, v)
	}
}

func fastHTTP() httpx.Options {
	return httpx.Options{Retries: 2, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond}
}

func TestPrometheusDefaultQueries(t *testing.T) {
	cases := []struct {
		selector           string
		window             time.Duration
		wantTotal, wantErr string
	}{
		{`{app="api",track="canary"}`, time.Minute,
			`sum(increase(http_requests_total{app="api",track="canary"}[1m]))`,
			`sum(increase(http_requests_total{app="api",track="canary",code=~"5.."}[1m]))`},
		{` app="api" , track=~"can.*", `, 90 * time.Second,
			`sum(increase(http_requests_total{app="api",track=~"can.*"}[90s]))`,
			`sum(increase(http_requests_total{app="api",track=~"can.*",code=~"5.."}[90s]))`},
		{`{job!="x"}`, 1500 * time.Millisecond,
			`sum(increase(http_requests_total{job!="x"}[1500ms]))`,
			`sum(increase(http_requests_total{job!="x",code=~"5.."}[1500ms]))`},
	}
	for _, c := range cases {
		f, url := newFakeProm(t, vector("12"))
		p, err := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: url + "/", HTTP: fastHTTP()})
		if err != nil {
			t.Fatal(err)
		}
		got, err := p.Counts(context.Background(), c.selector, metricsource.Window{Length: c.window})
		if err != nil {
			t.Fatal(err)
		}
		if got != (metricsource.Counts{Errors: 12, Total: 12}) {
			t.Errorf("counts %+v", got)
		}
		if len(f.queries) != 2 || f.queries[0] != c.wantTotal || f.queries[1] != c.wantErr {
			t.Errorf("selector %s: sent %q", c.selector, f.queries)
		}
	}

	f, url := newFakeProm(t, vector("0.25"))
	p, _ := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: url, HTTP: fastHTTP()})
	lat, err := p.Latency(context.Background(), `{app="api"}`, 0.99, metricsource.Window{Length: 5 * time.Minute})
	if err != nil || lat != 250*time.Millisecond {
		t.Fatalf("latency %v, %v", lat, err)
	}
	want := `histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{app="api"}[5m])))`
	if f.queries[0] != want {
		t.Errorf("sent %q, want %q", f.queries[0], want)
	}
}

func TestPrometheusErrorsSeriesMissingMeansZero(t *testing.T) {
	_, url := newFakeProm(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.FormValue("query"), `code=~"5.."`) {
			fmt.Fprint(w, `{"status":"success","data":{"resultType":"vector","result":[]}}`)
			return
		}
		vector("40")(w, r)
	})
	p, _ := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: url, HTTP: fastHTTP()})
	got, err := p.Counts(context.Background(), `{app="api"}`, metricsource.Window{Length: time.Minute})
	if err != nil || got != (metricsource.Counts{Errors: 0, Total: 40}) {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestPrometheusBadInputBeforeNetwork(t *testing.T) {
	f, url := newFakeProm(t, vector("1"))
	cases := []struct {
		name string
		opts metricsource.PrometheusOptions
		sel  string
		win  time.Duration
		q    float64
	}{
		{name: "URL without scheme", opts: metricsource.PrometheusOptions{URL: "prom.internal:9090"}},
		{name: "unbalanced override", opts: metricsource.PrometheusOptions{URL: url, Queries: metricsource.PromQueries{Errors: `sum(rate(x{$__selector}[$__window])`}}},
		{name: "unknown placeholder", opts: metricsource.PrometheusOptions{URL: url, Queries: metricsource.PromQueries{Total: `sum(rate(x{$__selectr}[$__window]))`}}},
		{name: "empty selector", opts: metricsource.PrometheusOptions{URL: url}, sel: `{}`, win: time.Minute},
		{name: "selector with a metric name", opts: metricsource.PrometheusOptions{URL: url}, sel: `up{job="x"}`, win: time.Minute},
		{name: "unquoted value", opts: metricsource.PrometheusOptions{URL: url}, sel: `{app=api}`, win: time.Minute},
		{name: "unclosed brace", opts: metricsource.PrometheusOptions{URL: url}, sel: `{app="api"`, win: time.Minute},
		{name: "zero window", opts: metricsource.PrometheusOptions{URL: url}, sel: `{app="api"}`},
		{name: "quantile out of range", opts: metricsource.PrometheusOptions{URL: url}, sel: `{app="api"}`, win: time.Minute, q: 95},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := metricsource.NewPrometheus(c.opts)
			if err == nil {
				if c.q != 0 {
					_, err = p.Latency(context.Background(), c.sel, c.q, metricsource.Window{Length: c.win})
				} else {
					_, err = p.Counts(context.Background(), c.sel, metricsource.Window{Length: c.win})
				}
			}
			var ie *metricsource.InputError
			if !errors.As(err, &ie) || !metricsource.Permanent(err) {
				t.Fatalf("got %v, want *metricsource.InputError", err)
			}
			t.Log(err)
		})
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d requests sent for bad input", n)
	}
}

func TestPrometheusBearerTokenNeverInErrors(t *testing.T) {
	const token = "s3cr3t-bearer-0123456789"
	cases := []struct {
		name   string
		answer func(w http.ResponseWriter, r *http.Request)
		check  func(t *testing.T, err error)
	}{
		{"401 from a proxy echoing the header", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, "<html>bad credentials: %s</html>", r.Header.Get("Authorization"))
		}, func(t *testing.T, err error) {
			if !errors.Is(err, metricsource.ErrUnauthorized) || !metricsource.Permanent(err) || !strings.Contains(err.Error(), "$PROM_TOKEN") {
				t.Errorf("got %v", err)
			}
		}},
		{"API error quoting the token", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnprocessableEntity)
			fmt.Fprintf(w, `{"status":"error","errorType":"execution","error":"boom near %s"}`, r.Header.Get("Authorization"))
		}, func(t *testing.T, err error) {
			var qe *metricsource.QueryError
			if !errors.As(err, &qe) || qe.Type != "execution" || qe.Status != 422 || metricsource.Permanent(err) {
				t.Errorf("got %v", err)
			}
		}},
		{"5xx until retries run out", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, `{"status":"error","errorType":"unavailable","error":"overloaded %s"}`, r.Header.Get("Authorization"))
		}, func(t *testing.T, err error) {
			var qe *metricsource.QueryError
			if !errors.As(err, &qe) || qe.Status != 503 || qe.Type != "unavailable" {
				t.Errorf("got %v", err)
			}
		}},
		{"not an API response", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "<html>login page %s</html>", r.Header.Get("Authorization"))
		}, func(t *testing.T, err error) {
			var qe *metricsource.QueryError
			if !errors.As(err, &qe) || !strings.Contains(qe.Message, "not a Prometheus API response") {
				t.Errorf("got %v", err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, url := newFakeProm(t, c.answer)
			var logged strings.Builder
			var mu sync.Mutex
			h := fastHTTP()
			h.Log = func(s string) { mu.Lock(); logged.WriteString(s + "\n"); mu.Unlock() }
			p, err := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: url, Token: token, TokenEnv: "PROM_TOKEN", HTTP: h})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Counts(context.Background(), `{app="api"}`, metricsource.Window{Length: time.Minute})
			if err == nil {
				t.Fatal("no error")
			}
			c.check(t, err)
			mu.Lock()
			defer mu.Unlock()
			for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), logged.String()} {
				if strings.Contains(text, token) {
					t.Errorf("token leaked: %s", text)
				}
			}
			if f.auth[0] != "Bearer "+token {
				t.Errorf("Authorization sent: %q", f.auth[0])
			}
		})
	}
}

func TestPrometheusBasicAuthPasswordRedacted(t *testing.T) {
	const pass = "basic-pass-9f8e7d6c"
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		got = u + ":" + p
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, "no entry for %s:%s", u, p)
	}))
	t.Cleanup(srv.Close)
	url := strings.Replace(srv.URL, "http://", "http://ci:"+pass+"@", 1)
	p, err := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: url, HTTP: fastHTTP()})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.String(), pass) {
		t.Errorf("password in %s", p)
	}
	_, err = p.Query(context.Background(), "up", time.Time{})
	if !errors.Is(err, metricsource.ErrUnauthorized) || strings.Contains(err.Error(), pass) {
		t.Fatalf("got %v", err)
	}
	if got != "ci:"+pass {
		t.Errorf("server saw basic auth %q", got)
	}
}

func TestPrometheusRetries5xxThenSucceeds(t *testing.T) {
	var n atomic.Int32
	f, url := newFakeProm(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"status":"error","errorType":"unavailable","error":"starting"}`)
			return
		}
		vector("7")(w, r)
	})
	p, _ := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: url, HTTP: fastHTTP()})
	v, err := p.Scalar(context.Background(), "up", time.Time{})
	if err != nil || v != 7 || f.calls.Load() != 2 {
		t.Fatalf("got %v, %v after %d calls", v, err, f.calls.Load())
	}
}

func TestPrometheusDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now: connections are refused
	p, _ := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: "http://" + addr, HTTP: fastHTTP()})
	_, err = p.Counts(context.Background(), `{app="api"}`, metricsource.Window{Length: time.Minute})
	if err == nil || !strings.Contains(err.Error(), "prometheus at http://"+addr+" is unreachable") ||
		!strings.Contains(err.Error(), "refused") || metricsource.Permanent(err) {
		t.Fatalf("got %v", err)
	}
}

func TestPrometheusSlowHonoursDeadline(t *testing.T) {
	// A server that accepts connections and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	// Per-attempt timeout and retries far beyond the deadline: only the
	// caller's context can end this call.
	p, _ := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: "http://" + l.Addr().String(),
		HTTP: httpx.Options{Timeout: time.Hour, Retries: 5, WaitMin: time.Millisecond}})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = p.Latency(ctx, `{app="api"}`, 0.95, metricsource.Window{Length: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer before the deadline") {
		t.Fatalf("got %v", err)
	}
}

func TestCheckSelector(t *testing.T) {
	good := []string{`{app="api"}`, `app="api"`, `{app="api",track="canary",}`, `{ a = "x" , b !~ 'y.*' , c=~` + "`z`" + `}`, `{"my.label"="v"}`, `{a="x\"}"}`}
	for _, s := range good {
		if err := metricsource.CheckSelector(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{``, `{}`, `{ }`, `{app="api"`, `app="api"}`, `{app=api}`, `{app}`, `{app="api" track="c"}`, `up{a="b"}`, `{1a="b"}`, `{a="b}`, `{a=="b"}`}
	for _, s := range bad {
		err := metricsource.CheckSelector(s)
		var se *metricsource.InputError
		if !errors.As(err, &se) {
			t.Errorf("%s: got %v, want *InputError", s, err)
		}
	}
}

func TestCheckPromQL(t *testing.T) {
	good := []string{
		metricsource.DefaultPromErrors, metricsource.DefaultPromTotal, metricsource.DefaultPromLatency,
		`sum(rate(x{a="(("}[5m])) # a comment with ( and $__nothing`,
		`label_replace(up, "x", "$1", "instance", "(.*):.*")`,
	}
	for _, s := range good {
		if err := metricsource.CheckPromQL(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []string{``, `sum(x`, `sum(x))`, `sum(x[5m)]`, `x{a="b}`, `rate(x{$__selektor}[1m])`, `x{a="b"}[$__window}`}
	for _, s := range bad {
		var se *metricsource.InputError
		if err := metricsource.CheckPromQL(s); !errors.As(err, &se) {
			t.Errorf("%s: got %v, want *InputError", s, err)
		}
	}
}
