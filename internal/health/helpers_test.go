package health_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/health"
	"github.com/pmguard/pmguard/internal/verb"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// fakeClock is the run's clock: it moves only when the run sleeps (or a
// handler says time passed), so waits are exact and tests never wait for real.
// It starts at the real time, so a --deadline (a real context) still applies.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
	// overshoot records each Sleep whose end would fall after its context's
	// deadline: a run must never ask to wait past its deadline.
	overshoot []time.Duration
}

func newClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.waits = append(c.waits, d)
	if dl, ok := ctx.Deadline(); ok && c.now.Add(d).After(dl) {
		c.overshoot = append(c.overshoot, d)
	}
	if d > 0 {
		c.now = c.now.Add(d)
	}
	c.mu.Unlock()
	return ctx.Err()
}

func (c *fakeClock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// outcome is everything a run produced.
type outcome struct {
	err    error
	code   int
	out    string
	result health.Result
	junit  []byte
	json   []byte
	events []events.Event
	log    []byte // the event log as written
	clock  *fakeClock
	opts   *health.Options
}

// attempt i (from 0) of endpoint e.
func (o outcome) attempt(t *testing.T, e, i int) health.Attempt {
	t.Helper()
	if e >= len(o.result.Endpoints) || i >= len(o.result.Endpoints[e].Attempts) {
		t.Fatalf("no attempt %d of endpoint %d in %+v\n%s", i, e, o.result, o.out)
	}
	return o.result.Endpoints[e].Attempts[i]
}

// check loads settings from args and env exactly as pmguard health does,
// runs the check on a fake clock and reads back its reports and events.
func check(t *testing.T, env map[string]string, args ...string) outcome {
	t.Helper()
	return checkWith(t, env, args, nil)
}

func checkWith(t *testing.T, env map[string]string, args []string, mod func(*verb.Deps)) outcome {
	t.Helper()
	dir := t.TempDir()
	jsonPath := filepath.Join(dir, "health.json")
	junitPath := filepath.Join(dir, "junit.xml")
	eventsPath := filepath.Join(dir, "events.jsonl")
	args = append(append([]string(nil), args...), "--json", jsonPath, "--junit", junitPath, "--events-file", eventsPath)
	if env == nil {
		env = map[string]string{}
	}
	clock := newClock()
	var out bytes.Buffer
	d := verbtest.Deps(env, &out, nil)
	d.Now, d.Sleep = clock.Now, clock.Sleep
	if mod != nil {
		mod(d)
	}
	o, err := health.New(context.Background(), d, args)
	if err != nil {
		t.Fatalf("new %q: %v", args, err)
	}
	err = health.Run(context.Background(), o)
	res := outcome{err: err, code: exitcode.Of(err), out: out.String(), clock: clock, opts: o}
	if res.json, err = os.ReadFile(jsonPath); err != nil {
		t.Fatalf("no JSON report: %v\n%s", err, res.out)
	}
	if err := json.Unmarshal(res.json, &res.result); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, res.json)
	}
	if res.junit, err = os.ReadFile(junitPath); err != nil {
		t.Fatalf("no JUnit report: %v", err)
	}
	if res.log, err = os.ReadFile(eventsPath); err != nil {
		t.Fatalf("no event log: %v", err)
	}
	evs, skipped, err := events.Read(bytes.NewReader(res.log))
	if err != nil || skipped > 0 {
		t.Fatalf("event log: %v, %d bad lines", err, skipped)
	}
	res.events = evs
	// The verdict, the exit code and the JSON report always agree.
	if res.result.Pass != (res.code == exitcode.Pass) {
		t.Fatalf("JSON report pass=%v but exit code %d (%v)", res.result.Pass, res.code, res.err)
	}
	return res
}

// statuses answers each request with the next status in the list, repeating
// the last one, and counts requests.
type statuses struct {
	codes []int
	n     atomic.Int64
	// before runs first in each request, with its number (from 1).
	before func(n int64, w http.ResponseWriter, r *http.Request)
	body   string
}

func (s *statuses) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.n.Add(1)
	if s.before != nil {
		s.before(n, w, r)
	}
	i := int(n) - 1
	if i >= len(s.codes) {
		i = len(s.codes) - 1
	}
	w.WriteHeader(s.codes[i])
	if s.body != "" {
		w.Write([]byte(s.body))
	}
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// hold accepts connections and never answers; it reports each connection's
// end (the client giving up) on closed.
func hold(t *testing.T) (addr string, accepted *atomic.Int64, closed chan struct{}) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = &atomic.Int64{}
	closed = make(chan struct{}, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						c.Close()
						closed <- struct{}{}
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), accepted, closed
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func reasons(e health.EndpointResult) []string {
	var out []string
	for _, a := range e.Attempts {
		out = append(out, a.Reason)
	}
	return out
}

func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s %q does not contain %q", what, got, w)
		}
	}
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
