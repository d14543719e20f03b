package metricsource_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/metricsource"
)

const (
	ddAPIKey = "dd-api-key-0f1e2d3c4b5a69788796"
	ddAppKey = "dd-app-key-a1b2c3d4e5f60718293a4b5c6d7e8f90"
)

// ddRequest is what the stand-in saw.
type ddRequest struct {
	Query, From, To, RawQuery string
	APIKey, AppKey            string
}

// ddStandIn is a local Datadog metrics query API (v1 GET /api/v1/query). It
// refuses requests the real API would refuse (wrong path or method, missing
// from/to/query, missing keys), then answers from respond.
type ddStandIn struct {
	t       *testing.T
	mu      sync.Mutex
	seen    []ddRequest
	respond func(w http.ResponseWriter, r ddRequest, n int)
}

func newDDStandIn(t *testing.T, respond func(w http.ResponseWriter, r ddRequest, n int)) (*ddStandIn, string) {
	d := &ddStandIn{t: t, respond: respond}
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return d, srv.URL
}

func (d *ddStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := ddRequest{Query: q.Get("query"), From: q.Get("from"), To: q.Get("to"), RawQuery: r.URL.RawQuery,
		APIKey: r.Header.Get("DD-API-KEY"), AppKey: r.Header.Get("DD-APPLICATION-KEY")}
	d.mu.Lock()
	d.seen = append(d.seen, req)
	n := len(d.seen)
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodGet || r.URL.Path != "/api/v1/query" {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"errors":["Not found"]}`)
		return
	}
	_, ferr := strconv.ParseInt(req.From, 10, 64)
	_, terr := strconv.ParseInt(req.To, 10, 64)
	if ferr != nil || terr != nil || req.Query == "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"errors":["The following parameters are missing or invalid: from, to, query"]}`)
		return
	}
	if req.APIKey == "" || req.AppKey == "" {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"errors":["Forbidden"]}`)
		return
	}
	d.respond(w, req, n)
}

func (d *ddStandIn) requests() []ddRequest {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]ddRequest(nil), d.seen...)
}

// ddSeries writes the documented success shape with one series per list of
// values (nil is a null point), one point every 10 s from `from`.
func ddSeries(w http.ResponseWriter, r ddRequest, series ...[]*float64) {
	from, _ := strconv.ParseInt(r.From, 10, 64)
	to, _ := strconv.ParseInt(r.To, 10, 64)
	type s struct {
		Metric      string        `json:"metric"`
		DisplayName string        `json:"display_name"`
		Scope       string        `json:"scope"`
		Expression  string        `json:"expression"`
		Aggr        *string       `json:"aggr"`
		Interval    int           `json:"interval"`
		Length      int           `json:"length"`
		Start       int64         `json:"start"`
		End         int64         `json:"end"`
		Pointlist   [][2]*float64 `json:"pointlist"`
		TagSet      []string      `json:"tag_set"`
		QueryIndex  int           `json:"query_index"`
		Unit        []any         `json:"unit"`
	}
	var out []s
	for i, vals := range series {
		var pts [][2]*float64
		for j, v := range vals {
			ts := float64((from + int64(10*j)) * 1000)
			pts = append(pts, [2]*float64{&ts, v})
		}
		out = append(out, s{Metric: "trace.http.request.hits", DisplayName: "trace.http.request.hits", Scope: fmt.Sprintf("service:api,host:h%d", i),
			Expression: r.Query, Interval: 10, Length: len(vals), Start: from * 1000, End: to * 1000, Pointlist: pts, TagSet: []string{}, Unit: []any{nil, nil}})
	}
	if out == nil {
		out = []s{}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"status": "ok", "res_type": "time_series", "resp_version": 1, "query": r.Query,
		"from_date": from * 1000, "to_date": to * 1000, "series": out, "values": []any{}, "times": []any{},
		"message": "", "group_by": []string{},
	})
}

func f(v float64) *float64 { return &v }

func newDatadog(t *testing.T, url string, mod func(*metricsource.DatadogOptions)) *metricsource.Datadog {
	t.Helper()
	o := metricsource.DatadogOptions{BaseURL: url, APIKey: ddAPIKey, AppKey: ddAppKey,
		HTTP: httpx.Options{Retries: 2, WaitMin: time.Millisecond, WaitMax: 10 * time.Millisecond, MaxRetryAfter: 10 * time.Millisecond},
		Now:  func() time.Time { return time.Unix(1_700_000_060, 0) }}
	if mod != nil {
		mod(&o)
	}
	d, err := metricsource.NewDatadog(o)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestDatadogCounts(t *testing.T) {
	sa, url := newDDStandIn(t, func(w http.ResponseWriter, r ddRequest, _ int) {
		if strings.Contains(r.Query, ".errors") {
			ddSeries(w, r, []*float64{f(1), nil, f(2)})
			return
		}
		// two series (e.g. two hosts), with a gap
		ddSeries(w, r, []*float64{f(10), f(20), nil}, []*float64{f(5), f(5)})
	})
	d := newDatadog(t, url, nil)
	got, err := d.Counts(context.Background(), `{service:api,version:canary}`, metricsource.Window{Length: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if got != (metricsource.Counts{Errors: 3, Total: 40}) {
		t.Errorf("got %+v, want 3 errors of 40", got)
	}
	reqs := sa.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	want := []string{
		`sum:trace.http.request.hits{service:api,version:canary}.as_count()`,
		`sum:trace.http.request.errors{service:api,version:canary}.as_count()`,
	}
	for i, r := range reqs {
		if r.Query != want[i] || r.From != "1700000000" || r.To != "1700000060" {
			t.Errorf("request %d: %+v", i, r)
		}
		if r.APIKey != ddAPIKey || r.AppKey != ddAppKey {
			t.Errorf("keys not sent as headers: %+v", r)
		}
		if strings.Contains(r.RawQuery, ddAPIKey) || strings.Contains(r.RawQuery, ddAppKey) {
			t.Errorf("a key is in the URL: %s", r.RawQuery)
		}
	}
}

func TestDatadogLatencyAndOverrides(t *testing.T) {
	sa, url := newDDStandIn(t, func(w http.ResponseWriter, r ddRequest, _ int) {
		ddSeries(w, r, []*float64{f(0.120), nil, f(0.310), f(0.200)})
	})
	d := newDatadog(t, url, nil)
	lat, err := d.Latency(context.Background(), `service:api`, 0.95, metricsource.Window{End: time.Unix(1_800_000_000, 0), Length: 2 * time.Minute})
	if err != nil || lat != 310*time.Millisecond {
		t.Fatalf("got %v, %v; want the highest point, 310ms", lat, err)
	}
	r := sa.requests()[0]
	if r.Query != `p95:trace.http.request{service:api}` || r.From != "1799999880" || r.To != "1800000000" {
		t.Errorf("sent %+v", r)
	}

	d = newDatadog(t, url, func(o *metricsource.DatadogOptions) {
		o.Queries = metricsource.DatadogQueries{Latency: `avg:my.latency{$__selector}.rollup(max, $__window)`}
	})
	if _, err := d.Latency(context.Background(), `{env:prod}`, 0.999, metricsource.Window{Length: 30 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if r := sa.requests()[1]; r.Query != `avg:my.latency{env:prod}.rollup(max, 30)` {
		t.Errorf("sent %q", r.Query)
	}
	// p99.9 has no Datadog aggregator: refused before the network with the
	// default query.
	d = newDatadog(t, url, nil)
	_, err = d.Latency(context.Background(), `{env:prod}`, 0.999, metricsource.Window{Length: 30 * time.Second})
	var ie *metricsource.InputError
	if !errors.As(err, &ie) || len(sa.requests()) != 2 {
		t.Errorf("got %v after %d requests", err, len(sa.requests()))
	}
}

func TestDatadogNoData(t *testing.T) {
	cases := []struct {
		name    string
		respond func(w http.ResponseWriter, r ddRequest, n int)
		counts  bool
	}{
		{"no series", func(w http.ResponseWriter, r ddRequest, _ int) { ddSeries(w, r) }, true},
		{"only null points", func(w http.ResponseWriter, r ddRequest, _ int) { ddSeries(w, r, []*float64{nil, nil}) }, true},
		{"latency without series", func(w http.ResponseWriter, r ddRequest, _ int) { ddSeries(w, r) }, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, url := newDDStandIn(t, c.respond)
			d := newDatadog(t, url, nil)
			var err error
			if c.counts {
				_, err = d.Counts(context.Background(), `service:api`, metricsource.Window{Length: time.Minute})
			} else {
				_, err = d.Latency(context.Background(), `service:api`, 0.5, metricsource.Window{Length: time.Minute})
			}
			if !errors.Is(err, metricsource.ErrNoData) || metricsource.Permanent(err) {
				t.Fatalf("got %v, want ErrNoData", err)
			}
		})
	}
	// Hits present, errors never tagged: zero errors, not missing data.
	_, url := newDDStandIn(t, func(w http.ResponseWriter, r ddRequest, _ int) {
		if strings.Contains(r.Query, ".errors") {
			ddSeries(w, r)
			return
		}
		ddSeries(w, r, []*float64{f(7)})
	})
	got, err := newDatadog(t, url, nil).Counts(context.Background(), `service:api`, metricsource.Window{Length: time.Minute})
	if err != nil || got != (metricsource.Counts{Total: 7}) {
		t.Fatalf("got %+v, %v", got, err)
	}
}

// TestDatadogWrongShapedAnswerIsNotNoData: a 200 that is not a query
// response (null, an empty object, another API's object) is a QueryError
// saying so, never "no series matched", which a canary would wait out as
// missing traffic until its max_duration.
func TestDatadogWrongShapedAnswerIsNotNoData(t *testing.T) {
	for _, body := range []string{`null`, `{}`, `{"data":[],"meta":{}}`, `[]`} {
		t.Run(body, func(t *testing.T) {
			_, url := newDDStandIn(t, func(w http.ResponseWriter, r ddRequest, _ int) { fmt.Fprint(w, body) })
			_, err := newDatadog(t, url, nil).Counts(context.Background(), `service:api`, metricsource.Window{Length: time.Minute})
			var qe *metricsource.QueryError
			if !errors.As(err, &qe) || errors.Is(err, metricsource.ErrNoData) || !strings.Contains(err.Error(), "not a Datadog query response") {
				t.Fatalf("got %v, want a QueryError saying the answer is not Datadog's", err)
			}
		})
	}
}

func TestDatadogErrors(t *testing.T) {
	cases := []struct {
		name    string
		respond func(w http.ResponseWriter, r ddRequest, n int)
		check   func(t *testing.T, err error, calls int)
	}{
		{"403 bad keys", func(w http.ResponseWriter, r ddRequest, _ int) {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `{"errors":["Forbidden: key %s is not valid"]}`, r.APIKey)
		}, func(t *testing.T, err error, calls int) {
			var ae *metricsource.AuthError
			if !errors.As(err, &ae) || !errors.Is(err, metricsource.ErrUnauthorized) || !metricsource.Permanent(err) {
				t.Fatalf("got %v", err)
			}
			if !strings.Contains(err.Error(), "forbidden") || !strings.Contains(err.Error(), "MY_DD_API/MY_DD_APP") {
				t.Errorf("message %q does not name the env vars", err)
			}
			if calls != 1 {
				t.Errorf("403 retried: %d calls", calls)
			}
		}},
		{"400 bad query", func(w http.ResponseWriter, r ddRequest, _ int) {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"errors":["Error parsing query: unable to parse sum:trace.http.request.hits{: Rule 'scope_expr' didn't match"]}`)
		}, func(t *testing.T, err error, calls int) {
			var qe *metricsource.QueryError
			if !errors.As(err, &qe) || !qe.BadQuery() || !strings.Contains(qe.Message, "Rule 'scope_expr' didn't match") {
				t.Fatalf("got %v", err)
			}
		}},
		{"status error in a 200", func(w http.ResponseWriter, r ddRequest, _ int) {
			fmt.Fprint(w, `{"status":"error","error":"Query timed out","series":[]}`)
		}, func(t *testing.T, err error, calls int) {
			var qe *metricsource.QueryError
			if !errors.As(err, &qe) || qe.Message != "Query timed out" || metricsource.Permanent(err) {
				t.Fatalf("got %v", err)
			}
		}},
		{"429 until the retries run out", func(w http.ResponseWriter, r ddRequest, _ int) {
			rateLimited(w, "3")
		}, func(t *testing.T, err error, calls int) {
			var qe *metricsource.QueryError
			if !errors.As(err, &qe) || qe.Status != 429 || !strings.Contains(err.Error(), "rate limited the query (HTTP 429, rate_limited); it asks to wait 3s") || metricsource.Permanent(err) {
				t.Fatalf("got %v", err)
			}
			if calls != 3 {
				t.Errorf("%d calls, want 1 + 2 retries", calls)
			}
		}},
		{"429 once, then data", func(w http.ResponseWriter, r ddRequest, n int) {
			if n == 1 {
				rateLimited(w, "1")
				return
			}
			ddSeries(w, r, []*float64{f(4)})
		}, func(t *testing.T, err error, calls int) {
			if err != nil || calls != 3 { // the 429, then hits and errors
				t.Fatalf("got %v after %d calls", err, calls)
			}
		}},
		{"500 until the retries run out", func(w http.ResponseWriter, r ddRequest, _ int) {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `<html>internal error</html>`)
		}, func(t *testing.T, err error, calls int) {
			var qe *metricsource.QueryError
			if !errors.As(err, &qe) || qe.Status != 500 || !strings.Contains(qe.Message, "internal error") || calls != 3 {
				t.Fatalf("got %v after %d calls", err, calls)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sa, url := newDDStandIn(t, c.respond)
			var log strings.Builder
			var mu sync.Mutex
			d := newDatadog(t, url, func(o *metricsource.DatadogOptions) {
				o.APIKeyEnv, o.AppKeyEnv = "MY_DD_API", "MY_DD_APP"
				o.HTTP.Log = func(s string) { mu.Lock(); log.WriteString(s + "\n"); mu.Unlock() }
			})
			_, err := d.Counts(context.Background(), `service:api`, metricsource.Window{Length: time.Minute})
			c.check(t, err, len(sa.requests()))
			mu.Lock()
			defer mu.Unlock()
			text := log.String()
			if err != nil {
				text += err.Error() + fmt.Sprintf("%#v", err)
			}
			if strings.Contains(text, ddAPIKey) || strings.Contains(text, ddAppKey) {
				t.Errorf("a key leaked: %s", text)
			}
		})
	}
}

// rateLimited answers 429 the way Datadog does: X-RateLimit-* headers, no
// Retry-After.
func rateLimited(w http.ResponseWriter, reset string) {
	w.Header().Set("X-RateLimit-Limit", "100")
	w.Header().Set("X-RateLimit-Period", "60")
	w.Header().Set("X-RateLimit-Remaining", "0")
	w.Header().Set("X-RateLimit-Reset", reset)
	w.Header().Set("X-RateLimit-Name", "query_timeseries")
	w.WriteHeader(http.StatusTooManyRequests)
	fmt.Fprint(w, `{"errors":["Too many requests"]}`)
}

func TestDatadogOptions(t *testing.T) {
	bad := []metricsource.DatadogOptions{
		{APIKey: ddAPIKey}, // no app key
		{AppKey: ddAppKey}, // no API key
		{APIKey: ddAPIKey, AppKey: ddAppKey, Site: "https://datadoghq.com"},
		{APIKey: ddAPIKey, AppKey: ddAppKey, Site: "datadoghq"},
		{APIKey: ddAPIKey, AppKey: ddAppKey, BaseURL: "ftp://x"},
		{APIKey: ddAPIKey, AppKey: ddAppKey, Queries: metricsource.DatadogQueries{Hits: `sum:x{$__selector`}},
		{APIKey: ddAPIKey, AppKey: ddAppKey, Queries: metricsource.DatadogQueries{Hits: `sum:x{$__scope}`}},
	}
	for i, o := range bad {
		_, err := metricsource.NewDatadog(o)
		var ie *metricsource.InputError
		if !errors.As(err, &ie) {
			t.Errorf("case %d: got %v, want *InputError", i, err)
		} else if strings.Contains(err.Error(), ddAPIKey) || strings.Contains(err.Error(), ddAppKey) {
			t.Errorf("case %d: key in %v", i, err)
		}
	}
	for site, want := range map[string]string{"": "datadog at https://api.datadoghq.com", "datadoghq.eu": "datadog at https://api.datadoghq.eu", "app.datadoghq.eu": "datadog at https://api.datadoghq.eu", "us5.datadoghq.com": "datadog at https://api.us5.datadoghq.com"} {
		d, err := metricsource.NewDatadog(metricsource.DatadogOptions{APIKey: ddAPIKey, AppKey: ddAppKey, Site: site})
		if err != nil || d.String() != want {
			t.Errorf("site %q: %v, %v", site, d, err)
		}
	}
	_, url := newDDStandIn(t, func(w http.ResponseWriter, r ddRequest, _ int) { t.Error("request sent") })
	d := newDatadog(t, url, nil)
	for _, sel := range []string{``, `{}`, `{service:api`, `trace.x{service:api}`} {
		var ie *metricsource.InputError
		if _, err := d.Counts(context.Background(), sel, metricsource.Window{Length: time.Minute}); !errors.As(err, &ie) {
			t.Errorf("selector %q: got %v", sel, err)
		}
	}
}

// A body that stops half way is the caller's deadline running out while
// reading, and is said so (as for Prometheus), not "reading the response".
func TestDatadogBodyStallsPastDeadline(t *testing.T) {
	release := make(chan struct{})
	_, url := newDDStandIn(t, func(w http.ResponseWriter, r ddRequest, _ int) {
		fmt.Fprint(w, `{"status":"ok","series":[`)
		w.(http.Flusher).Flush()
		<-release
	})
	// Registered after the stand-in, so it runs first: the server's Close
	// waits for this handler.
	t.Cleanup(func() { close(release) })
	d := newDatadog(t, url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err := d.Counts(ctx, `service:api`, metricsource.Window{Length: time.Minute})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer before the deadline") {
		t.Fatalf("got %v", err)
	}
	if strings.Contains(err.Error(), ddAPIKey) || strings.Contains(err.Error(), ddAppKey) {
		t.Errorf("a key leaked: %v", err)
	}
}

// X-RateLimit-Reset is read like Retry-After: seconds as given, a value past
// time.Duration's range as httpx's longest wait, never a negative one.
func TestDatadogRetryAfter(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		status int
		reset  string
		want   time.Duration
		ok     bool
	}{
		{http.StatusTooManyRequests, "7", 7 * time.Second, true},
		{http.StatusTooManyRequests, "9000000000000000000", httpx.MaxAsked, true},
		{http.StatusTooManyRequests, "-1", 0, false},
		{http.StatusInternalServerError, "7", 0, false},
	} {
		resp := &http.Response{StatusCode: c.status, Header: http.Header{"X-Ratelimit-Reset": {c.reset}}}
		got, ok := metricsource.DatadogRetryAfter(resp, now)
		if got != c.want || ok != c.ok {
			t.Errorf("HTTP %d, X-RateLimit-Reset %s: %v %v, want %v %v", c.status, c.reset, got, ok, c.want, c.ok)
		}
	}
}
