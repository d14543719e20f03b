package health_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/health"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// Each fault fails every attempt with a reason that says what happened, and
// the endpoint fails with that reason after retries+1 attempts.
func assertFault(t *testing.T, o outcome, attempts int, reason string) {
	t.Helper()
	if o.code != exitcode.Fail {
		t.Fatalf("exit %d (%v), want 1\n%s", o.code, o.err, o.out)
	}
	e := o.result.Endpoints[0]
	if len(e.Attempts) != attempts {
		t.Fatalf("%d attempts, want %d\n%s", len(e.Attempts), attempts, o.out)
	}
	for i, a := range e.Attempts {
		if a.Pass || !strings.Contains(a.Reason, reason) {
			t.Errorf("attempt %d: pass=%v reason %q, want %q", i+1, a.Pass, a.Reason, reason)
		}
	}
	contains(t, "endpoint reason", e.Reason, reason)
	// The per-attempt line on stdout carries the reason too.
	if n := strings.Count(o.out, reason); n < attempts {
		t.Errorf("stdout shows the reason %d times, want one per attempt\n%s", n, o.out)
	}
}

func TestConnectionRefused(t *testing.T) {
	o := check(t, nil, "--endpoint", "http://"+freeAddr(t)+"/health", "--retries", "1")
	assertFault(t, o, 2, "connection refused")
}

func TestDNSFailure(t *testing.T) {
	// .invalid never resolves (RFC 6761).
	o := check(t, nil, "--endpoint", "http://pmguard-health-check.invalid/health", "--retries", "1")
	assertFault(t, o, 2, "DNS lookup of pmguard-health-check.invalid failed")
}

func TestServerNeverAnswers(t *testing.T) {
	addr, accepted, closed := hold(t)
	o := check(t, nil, "--endpoint", "http://"+addr+"/health", "--timeout", "100ms", "--retries", "2", "--interval", "1s", "--deadline", "1m")
	assertFault(t, o, 3, "no response within 100ms")
	if len(o.clock.overshoot) > 0 {
		t.Errorf("asked to sleep past the deadline: %v", o.clock.overshoot)
	}
	for i := 0; i < 3; i++ { // every attempt's connection was given up
		select {
		case <-closed:
		case <-time.After(10 * time.Second):
			t.Fatal("a timed-out attempt left its connection open")
		}
	}
	// Counted once every connection closed: the listener may accept a
	// connection only after its attempt has given up on it.
	if accepted.Load() != 3 {
		t.Errorf("%d connections, want 3", accepted.Load())
	}
}

func TestSlowBody(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"status only", nil},
		{"body checked", []string{"--body-regex", "ok"}},
		{"json checked", []string{"--json-path", "status=ok"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Headers at once, then part of the body, then nothing.
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "1000")
				w.WriteHeader(http.StatusOK)
				w.Write([]byte(`{"status":`))
				w.(http.Flusher).Flush()
				<-r.Context().Done()
			}))
			// The timeout is long enough for the headers to arrive on a
			// loaded machine: only the body is to be missing.
			o := check(t, nil, append([]string{"--endpoint", srv.URL, "--timeout", "1s", "--retries", "1"}, tt.args...)...)
			assertFault(t, o, 2, "body not complete within 1s")
			if a := o.attempt(t, 0, 0); a.Status != 200 {
				t.Errorf("status %d: the status that did arrive should be kept", a.Status)
			}
		})
	}
}

func TestServerErrors(t *testing.T) {
	for _, code := range []int{500, 502, 503, 504} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			t.Parallel()
			srv := &statuses{codes: []int{code}}
			o := check(t, nil, "--endpoint", serve(t, srv).URL, "--retries", "2")
			assertFault(t, o, 3, fmt.Sprintf("status %d, want 200", code))
			if srv.n.Load() != 3 {
				t.Errorf("%d requests, want 3", srv.n.Load())
			}
		})
	}
}

func TestConnectionClosedMidResponse(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"))
			c.Close()
		}
	}))
	o := check(t, nil, "--endpoint", srv.URL, "--retries", "0", "--body-regex", "short")
	assertFault(t, o, 1, "connection closed before a complete response")
}

func TestRedirectLoop(t *testing.T) {
	var n atomic.Int64
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	}))
	o := check(t, nil, "--endpoint", srv.URL+"/loop", "--retries", "1")
	assertFault(t, o, 2, "redirect loop: stopped after 10 redirects")
	if n.Load() != 20 {
		t.Errorf("%d requests, want 10 per attempt", n.Load())
	}
}

func TestNoFollowRedirects(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/old" {
			http.Redirect(w, r, "/new", http.StatusFound)
		}
	}))
	tests := []struct {
		name     string
		args     []string
		wantPass bool
		status   int
	}{
		{"followed by default", nil, true, 200},
		{"judged itself", []string{"--no-follow-redirects", "--expect-status", "302"}, true, 302},
		{"judged itself and failing", []string{"--no-follow-redirects"}, false, 302},
	}
	for _, tt := range tests {
		o := check(t, nil, append([]string{"--endpoint", srv.URL + "/old", "--retries", "0"}, tt.args...)...)
		a := o.attempt(t, 0, 0)
		if o.result.Pass != tt.wantPass || a.Status != tt.status {
			t.Errorf("%s: pass %v status %d, want %v %d (%s)", tt.name, o.result.Pass, a.Status, tt.wantPass, tt.status, a.Reason)
		}
		if !tt.wantPass && a.Reason != "status 302, want 200" {
			t.Errorf("%s: reason %q", tt.name, a.Reason)
		}
	}
}

func TestBodyRegex(t *testing.T) {
	srv := &statuses{codes: []int{200}, body: "service: api\nstatus: OK\nversion: 1.4.2\n"}
	url := serve(t, srv).URL
	tests := []struct {
		re         string
		wantPass   bool
		wantReason string
	}{
		{"status: OK", true, ""},
		{`(?m)^version: 1\.4\.\d+$`, true, ""},
		{"(?i)STATUS: ok", true, ""},
		{"status: DOWN", false, `body does not match "status: DOWN"`},
	}
	for _, tt := range tests {
		o := check(t, nil, "--endpoint", url, "--body-regex", tt.re, "--retries", "0")
		if a := o.attempt(t, 0, 0); o.result.Pass != tt.wantPass || a.Reason != tt.wantReason {
			t.Errorf("--body-regex %q: pass %v reason %q; want %v %q", tt.re, o.result.Pass, a.Reason, tt.wantPass, tt.wantReason)
		}
	}
}

func TestJSONPath(t *testing.T) {
	body := `{"status":"ok","checks":{"db":{"status":"up"},"cache":{"status":"degraded"}},
		"items":[{"state":"ready"},{"state":"warming"}],"count":3,"ready":true,"ratio":0.25,"nothing":null,
		"matrix":[[1,2],[3,4]]}`
	srv := &statuses{codes: []int{200}, body: body}
	url := serve(t, srv).URL
	tests := []struct {
		paths      []string
		wantPass   bool
		wantReason string
	}{
		{[]string{"status=ok"}, true, ""},
		{[]string{"$.status=ok"}, true, ""},
		{[]string{"checks.db.status=up"}, true, ""},
		{[]string{"items[1].state=warming"}, true, ""},
		{[]string{"matrix[1][0]=3"}, true, ""},
		{[]string{"count=3", "ready=true", "ratio=0.25", "nothing=null"}, true, ""},
		{[]string{"checks.db={\"status\":\"up\"}"}, true, ""},
		{[]string{"status=ok", "checks.cache.status=up"}, false, `JSON checks.cache.status = "degraded", want "up"`},
		{[]string{"items[0].state=warming"}, false, `JSON items[0].state = "ready", want "warming"`},
		{[]string{"checks.queue.status=up"}, false, "JSON has no checks.queue.status"},
		{[]string{"items[5].state=ready"}, false, "JSON has no items[5].state"},
		{[]string{"status.deeper=x"}, false, "JSON has no status.deeper"},
		{[]string{"items.state=ready"}, false, "JSON has no items.state"},
		{[]string{"checks[0]=x"}, false, "JSON has no checks[0]"},
	}
	for _, tt := range tests {
		args := []string{"--endpoint", url, "--retries", "0"}
		for _, p := range tt.paths {
			args = append(args, "--json-path", p)
		}
		o := check(t, nil, args...)
		if a := o.attempt(t, 0, 0); o.result.Pass != tt.wantPass || a.Reason != tt.wantReason {
			t.Errorf("--json-path %q: pass %v reason %q; want %v %q", tt.paths, o.result.Pass, a.Reason, tt.wantPass, tt.wantReason)
		}
	}
}

// A key twice in one object has no defined value (encoding/json keeps the
// last): the check fails rather than pass on {"status":"down","status":"ok"}.
// The same key in different objects is fine.
func TestJSONDuplicateKeys(t *testing.T) {
	for _, body := range []string{`{"status":"down","status":"ok"}`, `{"checks":{"db":{"s":1,"s":2}},"status":"ok"}`, `[{"a":1},{"status":"x","status":"ok"}]`} {
		srv := &statuses{codes: []int{200}, body: body}
		o := check(t, nil, "--endpoint", serve(t, srv).URL, "--json-path", "status=ok", "--retries", "1")
		assertFault(t, o, 2, "twice in one object")
	}
	srv := &statuses{codes: []int{200}, body: `{"status":"ok","a":{"status":"x"},"b":[{"status":"y"},{"status":"z"}]}`}
	o := check(t, nil, "--endpoint", serve(t, srv).URL, "--json-path", "status=ok", "--retries", "0")
	if a := o.attempt(t, 0, 0); !o.result.Pass {
		t.Errorf("the same key in different objects: %s", a.Reason)
	}
}

func TestInvalidJSON(t *testing.T) {
	// A JSON value followed by anything but white space is no JSON document
	// either: an error page after {"status":"ok"} must not pass.
	for _, body := range []string{"<html>Service Unavailable</html>", `{"status":"ok"`, "", `{"status":"ok"}<html>502 Bad Gateway</html>`, `{"status":"ok"}{"status":"down"}`} {
		srv := &statuses{codes: []int{200}, body: body}
		o := check(t, nil, "--endpoint", serve(t, srv).URL, "--json-path", "status=ok", "--retries", "1")
		assertFault(t, o, 2, "body is not valid JSON")
	}
}

// TestHugeBody: a 1 GB body is read no further than 1 MiB and costs no
// memory to speak of, whatever the checks.
func TestHugeBody(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantPass   bool
		wantReason string
	}{
		{"status only", nil, true, ""},
		{"body regex", []string{"--body-regex", "healthy"}, false, `body does not match "healthy"`},
		{"body regex in the first MiB", []string{"--body-regex", "^xxxx"}, true, ""},
		{"json path", []string{"--json-path", "status=ok"}, false, "body larger than 1 MiB; JSON checks need the whole body"},
	}
	const gigabyte = 1 << 30
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var written atomic.Int64
			done := make(chan struct{}, 1)
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer func() { done <- struct{}{} }()
				w.Header().Set("Content-Length", fmt.Sprint(gigabyte))
				chunk := []byte(strings.Repeat("x", 32<<10))
				for written.Load() < gigabyte {
					n, err := w.Write(chunk)
					written.Add(int64(n))
					if err != nil {
						return // the client hung up
					}
				}
			}))
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			o := check(t, nil, append([]string{"--endpoint", srv.URL, "--retries", "0", "--timeout", "1m"}, tt.args...)...)
			runtime.ReadMemStats(&after)
			select {
			case <-done:
			case <-time.After(time.Minute):
				t.Fatal("the handler is still writing: the client did not hang up")
			}
			a := o.attempt(t, 0, 0)
			if o.result.Pass != tt.wantPass || a.Reason != tt.wantReason {
				t.Errorf("pass %v reason %q; want %v %q", o.result.Pass, a.Reason, tt.wantPass, tt.wantReason)
			}
			if a.BodyBytes > 1<<20 {
				t.Errorf("read %d bytes of the body, want at most 1 MiB", a.BodyBytes)
			}
			// What the server managed to write is what was read plus the
			// socket buffers; far from the gigabyte on offer.
			if w := written.Load(); w > 64<<20 {
				t.Errorf("the server wrote %d MiB before the client hung up", w>>20)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64<<20 {
				t.Errorf("the check allocated %d MiB", alloc>>20)
			}
			t.Logf("server wrote %.1f MiB, client read %d bytes, allocated %.1f MiB", float64(written.Load())/(1<<20), a.BodyBytes, float64(after.TotalAlloc-before.TotalAlloc)/(1<<20))
		})
	}
}

// Another process holding the event log's lock costs events, not the
// verdict: the wait for it is short, and once it ran out the later events
// do not wait again, so a healthy endpoint passes within its deadline.
func TestAHeldEventLogLockDoesNotDecideTheVerdict(t *testing.T) {
	up := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	dir := t.TempDir()
	path := filepath.Join(dir, "events.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	var out, errw bytes.Buffer
	d := verbtest.Deps(nil, &out, &errw)
	o, err := health.New(context.Background(), d, []string{"--endpoint", up.URL, "--deadline", "5s", "--events-file", path,
		"--json", filepath.Join(dir, "health.json"), "--junit", filepath.Join(dir, "junit.xml")})
	if err != nil {
		t.Fatal(err)
	}
	if err := health.Run(context.Background(), o); err != nil {
		t.Fatalf("a held event-log lock failed a healthy check: %v\n%s%s", err, out.String(), errw.String())
	}
	if !strings.Contains(out.String()+errw.String(), "another process holds its lock") {
		t.Errorf("the lost events are not reported:\n%s%s", out.String(), errw.String())
	}
}
