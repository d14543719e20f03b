package health_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/verb"
)

func TestVerdicts(t *testing.T) {
	const bad = "status 503, want 200"
	tests := []struct {
		name         string
		codes        []int
		endpoint     string // appended to the server URL; "" = "/health"
		args         []string
		wantPass     bool
		wantAttempts int
		wantWaits    []time.Duration
		wantReasons  []string // per attempt, "" for a pass
		wantReason   string   // the endpoint's, substring
	}{
		{
			name: "healthy at once", codes: []int{200},
			wantPass: true, wantAttempts: 1, wantReasons: []string{""},
		},
		{
			name: "healthy after two failing attempts", codes: []int{503, 503, 200},
			args:     []string{"--retries", "3", "--interval", "2s"},
			wantPass: true, wantAttempts: 3, wantWaits: []time.Duration{2 * time.Second, 2 * time.Second},
			wantReasons: []string{bad, bad, ""},
		},
		{
			name: "never healthy uses retries+1 attempts", codes: []int{503},
			args:     []string{"--retries", "2", "--interval", "1s"},
			wantPass: false, wantAttempts: 3, wantWaits: []time.Duration{time.Second, time.Second},
			wantReasons: []string{bad, bad, bad}, wantReason: bad + " after 3 attempt(s)",
		},
		{
			name: "no retries", codes: []int{503},
			args:     []string{"--retries", "0"},
			wantPass: false, wantAttempts: 1, wantReasons: []string{bad}, wantReason: bad + " after 1 attempt(s)",
		},
		{
			name: "wrong status", codes: []int{404},
			args:     []string{"--retries", "1"},
			wantPass: false, wantAttempts: 2, wantReasons: []string{"status 404, want 200", "status 404, want 200"},
			wantReason: "status 404, want 200",
		},
		{
			name: "per-endpoint status overrides --expect-status", codes: []int{404},
			endpoint: "/gone 404", args: []string{"--expect-status", "200"},
			wantPass: true, wantAttempts: 1, wantReasons: []string{""},
		},
		{
			name: "per-endpoint status is judged alone", codes: []int{200},
			endpoint: "/gone 404", args: []string{"--expect-status", "200", "--retries", "0"},
			wantPass: false, wantAttempts: 1, wantReasons: []string{"status 200, want 404"},
		},
		{
			name: "2xx accepts 204", codes: []int{204},
			args:     []string{"--expect-status", "2xx"},
			wantPass: true, wantAttempts: 1, wantReasons: []string{""},
		},
		{
			name: "2xx rejects 301 judged as is", codes: []int{301},
			args:     []string{"--expect-status", "2xx", "--no-follow-redirects", "--retries", "0"},
			wantPass: false, wantAttempts: 1, wantReasons: []string{"status 301, want 2xx"},
		},
		{
			name: "200-399 accepts 302 judged as is", codes: []int{302},
			args:     []string{"--expect-status", "200-399", "--no-follow-redirects"},
			wantPass: true, wantAttempts: 1, wantReasons: []string{""},
		},
		{
			name: "200-399 rejects 404", codes: []int{404},
			args:     []string{"--expect-status", "200-399", "--retries", "0"},
			wantPass: false, wantAttempts: 1, wantReasons: []string{"status 404, want 200-399"},
		},
		{
			name: "list of statuses", codes: []int{418},
			endpoint: "/teapot 200,418",
			wantPass: true, wantAttempts: 1, wantReasons: []string{""},
		},
		{
			name: "success threshold needs consecutive passes", codes: []int{200},
			args:     []string{"--success-threshold", "3", "--interval", "5s"},
			wantPass: true, wantAttempts: 3, wantWaits: []time.Duration{5 * time.Second, 5 * time.Second},
			wantReasons: []string{"", "", ""},
		},
		{
			name: "success threshold after a failure", codes: []int{500, 200, 200},
			args:     []string{"--success-threshold", "2", "--retries", "1"},
			wantPass: true, wantAttempts: 3, wantReasons: []string{"status 500, want 200", "", ""},
		},
		{
			name: "flapping endpoint never reaches the threshold", codes: []int{200, 500, 200, 500, 200, 500, 200},
			args:     []string{"--success-threshold", "2", "--retries", "3"},
			wantPass: false, wantAttempts: 4,
			wantReasons: []string{"", "status 500, want 200", "", "status 500, want 200"},
			wantReason:  "status 500, want 200",
		},
		{
			name: "threshold cut short by the attempts left", codes: []int{500, 500, 200},
			args:     []string{"--success-threshold", "3", "--retries", "1"},
			wantPass: false, wantAttempts: 2,
			wantReasons: []string{"status 500, want 200", "status 500, want 200"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := &statuses{codes: tt.codes}
			url := serve(t, srv).URL
			ep := tt.endpoint
			if ep == "" {
				ep = "/health"
			}
			o := check(t, nil, append([]string{"--endpoint", url + ep}, tt.args...)...)
			if o.result.Pass != tt.wantPass {
				t.Fatalf("pass = %v, want %v\n%s", o.result.Pass, tt.wantPass, o.out)
			}
			wantCode := exitcode.Pass
			if !tt.wantPass {
				wantCode = exitcode.Fail
			}
			if o.code != wantCode {
				t.Errorf("exit code %d, want %d (%v)", o.code, wantCode, o.err)
			}
			e := o.result.Endpoints[0]
			if len(e.Attempts) != tt.wantAttempts || int(srv.n.Load()) != tt.wantAttempts {
				t.Errorf("%d attempts, %d requests; want %d\n%s", len(e.Attempts), srv.n.Load(), tt.wantAttempts, o.out)
			}
			if got := fmt.Sprint(reasons(e)); got != fmt.Sprint(tt.wantReasons) {
				t.Errorf("attempt reasons %q, want %q", reasons(e), tt.wantReasons)
			}
			if got := o.clock.Waits(); tt.wantWaits != nil && fmt.Sprint(got) != fmt.Sprint(tt.wantWaits) {
				t.Errorf("waits %v, want %v", got, tt.wantWaits)
			}
			if tt.wantPass && e.Reason != "" {
				t.Errorf("a passing endpoint has reason %q", e.Reason)
			}
			if !tt.wantPass {
				if e.Reason == "" {
					t.Error("a failing endpoint needs a reason")
				}
				contains(t, "endpoint reason", e.Reason, tt.wantReason)
				contains(t, "verdict", o.err.Error(), e.URL, e.Reason)
			}
			for i, a := range e.Attempts {
				if a.Number != i+1 || a.Pass != (a.Reason == "") {
					t.Errorf("attempt %d: %+v", i+1, a)
				}
			}
		})
	}
}

// TestIntervalIsStartToStart: the interval runs from the start of one
// attempt to the start of the next, so a slow answer does not push the next
// attempt back and an endpoint that turns healthy at T is seen by T+interval.
func TestIntervalIsStartToStart(t *testing.T) {
	var clock *fakeClock
	srv := &statuses{codes: []int{503}, before: func(int64, http.ResponseWriter, *http.Request) {
		clock.Advance(300 * time.Millisecond) // each answer takes 300 ms
	}}
	url := serve(t, srv).URL
	o := checkWith(t, nil, []string{"--endpoint", url, "--retries", "2", "--interval", "1s"}, func(o *verb.Deps) {
		clock = newClock()
		o.Now, o.Sleep = clock.Now, clock.Sleep
	})
	if got, want := fmt.Sprint(clock.Waits()), fmt.Sprint([]time.Duration{700 * time.Millisecond, 700 * time.Millisecond}); got != want {
		t.Errorf("waits %s, want %s", got, want)
	}
	if a := o.attempt(t, 0, 0); a.LatencyMS != 300 {
		t.Errorf("latency %v ms, want 300", a.LatencyMS)
	}
}

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		args       []string
		wantPass   bool
		wantWaitGE time.Duration // the first wait asked of Sleep is at least this
		wantReason string        // of attempt 1
		wantEnd    string        // of the endpoint, when it fails
	}{
		{
			name: "429 waits Retry-After, longer than the interval", status: 429, retryAfter: "3",
			args: []string{"--interval", "1s"}, wantPass: true, wantWaitGE: 3 * time.Second,
			wantReason: "status 429, want 200 (Retry-After 3s)",
		},
		{
			name: "503 waits Retry-After", status: 503, retryAfter: "2",
			args: []string{"--interval", "500ms"}, wantPass: true, wantWaitGE: 2 * time.Second,
			wantReason: "status 503, want 200 (Retry-After 2s)",
		},
		{
			name: "a short Retry-After does not shorten the interval", status: 429, retryAfter: "1",
			args: []string{"--interval", "4s"}, wantPass: true, wantWaitGE: 3700 * time.Millisecond,
			wantReason: "status 429, want 200 (Retry-After 1s)",
		},
		{
			name: "Retry-After past the deadline ends the check", status: 429, retryAfter: "120",
			args: []string{"--interval", "1s", "--deadline", "1m"}, wantPass: false,
			wantReason: "status 429, want 200 (Retry-After 2m0s)", wantEnd: "deadline 1m0s reached after 1 attempt(s)",
		},
		{
			name: "a Retry-After date centuries away is said readably", status: 503, retryAfter: "Fri, 31 Dec 9999 23:59:59 GMT",
			args: []string{"--interval", "1s", "--deadline", "1m"}, wantPass: false,
			wantReason: "status 503, want 200 (Retry-After more than 168h0m0s)", wantEnd: "deadline 1m0s reached after 1 attempt(s)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var clock *fakeClock
			srv := &statuses{codes: []int{tt.status, 200}, before: func(n int64, w http.ResponseWriter, _ *http.Request) {
				clock.Advance(300 * time.Millisecond) // the answer takes 300 ms to arrive
				if n == 1 {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
			}}
			url := serve(t, srv).URL
			o := checkWith(t, nil, append([]string{"--endpoint", url}, tt.args...), func(o *verb.Deps) {
				clock = newClock()
				o.Now, o.Sleep = clock.Now, clock.Sleep
			})
			if o.result.Pass != tt.wantPass {
				t.Fatalf("pass %v\n%s", o.result.Pass, o.out)
			}
			if a := o.attempt(t, 0, 0); a.Reason != tt.wantReason {
				t.Errorf("attempt 1 reason %q, want %q", a.Reason, tt.wantReason)
			}
			waits := clock.Waits()
			if tt.wantPass {
				// Retry-After counts from the answer, not the request.
				if len(waits) != 1 || waits[0] < tt.wantWaitGE {
					t.Errorf("waits %v, want one of at least %v", waits, tt.wantWaitGE)
				}
			} else {
				if len(waits) != 0 {
					t.Errorf("waits %v: nothing should wait past the deadline", waits)
				}
				contains(t, "endpoint reason", o.result.Endpoints[0].Reason, tt.wantEnd)
			}
		})
	}
}

// TestDeadline: nothing runs or waits past --deadline.
func TestDeadline(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		wantAttempts int
		wantWaits    int
	}{
		// The interval is longer than the deadline: one attempt, no wait.
		{"interval beyond the deadline", []string{"--interval", "10m", "--deadline", "1m", "--retries", "5"}, 1, 0},
		// Attempts at 0, 25 s and 50 s; the next would start at 75 s.
		{"deadline cuts the retries", []string{"--interval", "25s", "--deadline", "1m", "--retries", "10"}, 3, 2},
		// The retries run out before the deadline.
		{"retries run out first", []string{"--interval", "1s", "--deadline", "1m", "--retries", "2"}, 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := &statuses{codes: []int{503}}
			url := serve(t, srv).URL
			o := check(t, nil, append([]string{"--endpoint", url}, tt.args...)...)
			if o.code != exitcode.Fail {
				t.Fatalf("exit %d, want 1", o.code)
			}
			e := o.result.Endpoints[0]
			if len(e.Attempts) != tt.wantAttempts || len(o.clock.Waits()) != tt.wantWaits {
				t.Errorf("%d attempts, waits %v; want %d attempts, %d waits", len(e.Attempts), o.clock.Waits(), tt.wantAttempts, tt.wantWaits)
			}
			if len(o.clock.overshoot) > 0 {
				t.Errorf("asked to sleep past the deadline: %v", o.clock.overshoot)
			}
			if tt.wantAttempts < 3 || tt.name == "deadline cuts the retries" {
				contains(t, "reason", e.Reason, "deadline 1m0s reached after", "last: status 503, want 200")
			}
		})
	}
}

// TestDeadlineCutsAnAttemptShort: an attempt in flight when the deadline
// comes is abandoned (its connection closed) and the reason says deadline,
// not the per-request timeout.
func TestDeadlineCutsAnAttemptShort(t *testing.T) {
	addr, accepted, closed := hold(t)
	// The deadline is a real one: long enough for a loaded machine to
	// connect before it passes.
	o := check(t, nil, "--endpoint", "http://"+addr+"/health", "--timeout", "1h", "--deadline", "1s", "--interval", "10ms", "--retries", "5")
	if o.code != exitcode.Fail {
		t.Fatalf("exit %d, want 1", o.code)
	}
	e := o.result.Endpoints[0]
	if len(e.Attempts) != 1 {
		t.Fatalf("%d attempts; want 1", len(e.Attempts))
	}
	if got := e.Attempts[0].Reason; got != "deadline reached before a response" {
		t.Errorf("attempt reason %q", got)
	}
	contains(t, "endpoint reason", e.Reason, "deadline 1s reached after 1 attempt(s)")
	if len(o.clock.overshoot) > 0 {
		t.Errorf("asked to sleep past the deadline: %v", o.clock.overshoot)
	}
	// The abandoned connection was closed: nothing is left running.
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the connection of the abandoned attempt is still open")
	}
	// Counted after the close: the listener may accept the connection only
	// after the attempt has given up on it.
	if accepted.Load() != 1 {
		t.Errorf("%d connections; want 1", accepted.Load())
	}
}

// TestConcurrency: every endpoint is checked, at most --concurrency at once
// and really that many at once; results keep the order given.
func TestConcurrency(t *testing.T) {
	const endpoints, limit = 40, 4
	var inflight, maxInflight atomic.Int64
	var mu sync.Mutex
	waiting := 0
	release := make(chan struct{})
	seen := map[string]int{}
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			m := maxInflight.Load()
			if n <= m || maxInflight.CompareAndSwap(m, n) {
				break
			}
		}
		// A barrier of `limit` requests: it only opens if that many are in
		// flight together. Were the checks serial, each request would time out.
		mu.Lock()
		seen[r.URL.Path]++
		waiting++
		ch := release
		if waiting == limit {
			close(release)
			release, waiting = make(chan struct{}), 0
		}
		mu.Unlock()
		select {
		case <-ch:
		case <-r.Context().Done():
			return
		}
		if strings.HasSuffix(r.URL.Path, "7") {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	args := []string{"--concurrency", fmt.Sprint(limit), "--retries", "0", "--timeout", "20s"}
	for i := 0; i < endpoints; i++ {
		args = append(args, "--endpoint", fmt.Sprintf("%s/svc/%d", srv.URL, i))
	}
	o := check(t, nil, args...)
	if m := maxInflight.Load(); m != limit {
		t.Errorf("at most %d requests in flight, want %d", m, limit)
	}
	if len(o.result.Endpoints) != endpoints {
		t.Fatalf("%d results", len(o.result.Endpoints))
	}
	failed := 0
	for i, e := range o.result.Endpoints {
		if want := fmt.Sprintf("%s/svc/%d", srv.URL, i); e.URL != want {
			t.Errorf("result %d is %s, want %s", i, e.URL, want)
		}
		if seen[fmt.Sprintf("/svc/%d", i)] != 1 {
			t.Errorf("endpoint %d requested %d times", i, seen[fmt.Sprintf("/svc/%d", i)])
		}
		wantPass := i%10 != 7
		if e.Pass != wantPass {
			t.Errorf("endpoint %d pass=%v, want %v (%s)", i, e.Pass, wantPass, e.Reason)
		}
		if !e.Pass {
			failed++
		}
	}
	if o.code != exitcode.Fail || o.result.Failed != failed || o.result.Passed != endpoints-failed {
		t.Errorf("exit %d, passed %d failed %d; want 1, %d, %d", o.code, o.result.Passed, o.result.Failed, endpoints-failed, failed)
	}
}

func TestMethod(t *testing.T) {
	for _, tt := range []struct{ flag, want string }{{"", "GET"}, {"HEAD", "HEAD"}, {"post", "POST"}, {"OPTIONS", "OPTIONS"}} {
		var got atomic.Value
		var ua atomic.Value
		srv := &statuses{codes: []int{200}, before: func(_ int64, _ http.ResponseWriter, r *http.Request) {
			got.Store(r.Method)
			ua.Store(r.UserAgent())
		}}
		args := []string{"--endpoint", serve(t, srv).URL}
		if tt.flag != "" {
			args = append(args, "--method", tt.flag)
		}
		o := check(t, nil, args...)
		if !o.result.Pass || got.Load() != tt.want {
			t.Errorf("--method %q: server saw %v, pass %v", tt.flag, got.Load(), o.result.Pass)
		}
		if ua.Load() != "pmguard/test" {
			t.Errorf("User-Agent %v", ua.Load())
		}
	}
}

func TestHeadersAreSent(t *testing.T) {
	got := make(chan http.Header, 1)
	srv := &statuses{codes: []int{200}, before: func(_ int64, _ http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
	}}
	url := serve(t, srv).URL
	env := map[string]string{"PMGUARD_HEALTH_HEADERS": "X-One: 1\nX-Env: ${REGION}-$ZONE\n# a comment\n", "REGION": "eu", "ZONE": "b"}
	tests := []struct {
		args []string
		want map[string]string
	}{
		{nil, map[string]string{"X-One": "1", "X-Env": "eu-b", "X-Flag": ""}},
		// Flags override the env var as a whole.
		{[]string{"--header", "X-Flag: from flag", "--header", "X-Flag: twice"}, map[string]string{"X-One": "", "X-Flag": "from flag|twice"}},
	}
	for _, tt := range tests {
		o := check(t, env, append([]string{"--endpoint", url}, tt.args...)...)
		if !o.result.Pass {
			t.Fatal(o.out)
		}
		h := <-got
		for k, v := range tt.want {
			if g := strings.Join(h.Values(k), "|"); g != v {
				t.Errorf("%v: header %s = %q, want %q", tt.args, k, g, v)
			}
		}
	}
}

func TestCancelledRun(t *testing.T) {
	srv := &statuses{codes: []int{503}}
	url := serve(t, srv).URL
	o := checkWith(t, nil, []string{"--endpoint", url, "--retries", "5"}, func(o *verb.Deps) {
		clock := newClock()
		o.Now = clock.Now
		// The job is cancelled during the first wait.
		o.Sleep = func(ctx context.Context, d time.Duration) error { return context.Canceled }
	})
	e := o.result.Endpoints[0]
	if o.code != exitcode.Fail || len(e.Attempts) != 1 {
		t.Fatalf("exit %d, %d attempts", o.code, len(e.Attempts))
	}
	contains(t, "reason", e.Reason, "stopped after 1 attempt(s)", "status 503")
}

// TestRetryAfterIsCapped: with no deadline, a server asking for an hour
// gets httpx.MaxRetryAfter at most; the check does not hold the deploy.
func TestRetryAfterIsCapped(t *testing.T) {
	srv := &statuses{codes: []int{503, 200}, before: func(n int64, w http.ResponseWriter, _ *http.Request) {
		if n == 1 {
			w.Header().Set("Retry-After", "3600")
		}
	}}
	url := serve(t, srv).URL
	o := check(t, nil, "--endpoint", url, "--retries", "1", "--interval", "1s")
	waits := o.clock.Waits()
	if !o.result.Pass || len(waits) != 1 {
		t.Fatalf("pass %v, waits %v\n%s", o.result.Pass, waits, o.out)
	}
	if waits[0] > httpx.MaxRetryAfter || waits[0] < time.Second {
		t.Errorf("waited %v, want between the interval and %v", waits[0], httpx.MaxRetryAfter)
	}
}

// TestRedirectToAnotherOrigin: custom headers (a credential in X-Api-Key:
// ${HK}) reach the endpoint's own origin but not the host it redirects to;
// net/http alone would strip only Authorization.
func TestRedirectToAnotherOrigin(t *testing.T) {
	const key = "hk-Sup3r-secret-key"
	seen := make(chan http.Header, 2)
	other := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
	}))
	origin := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen <- r.Header.Clone()
		http.Redirect(w, r, other.URL+"/health", http.StatusFound)
	}))
	env := map[string]string{"HK": key, "PMGUARD_HEALTH_HEADERS": "X-Api-Key: ${HK}\nAuthorization: Bearer ${HK}"}
	o := check(t, env, "--endpoint", origin.URL+"/health", "--retries", "0")
	if !o.result.Pass {
		t.Fatalf("the redirected check failed:\n%s", o.out)
	}
	first, second := <-seen, <-seen
	if first.Get("X-Api-Key") != key {
		t.Errorf("the endpoint itself got X-Api-Key %q", first.Get("X-Api-Key"))
	}
	for _, h := range []string{"X-Api-Key", "Authorization"} {
		if v := second.Get(h); v != "" {
			t.Errorf("%s followed the redirect to another origin: %q", h, v)
		}
	}
	if !strings.HasPrefix(second.Get("User-Agent"), "pmguard/") {
		t.Errorf("User-Agent %q did not follow", second.Get("User-Agent"))
	}
}
