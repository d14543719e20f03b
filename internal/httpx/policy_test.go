package httpx_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// A redirect to another origin must not carry any credential header, in
// whatever header it travels; a same-origin redirect keeps them.
func TestRedirectDropsCredentialsAcrossOrigins(t *testing.T) {
	var got sync.Map
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store("other", r.Header.Clone())
	}))
	defer other.Close()
	var origin *httptest.Server
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/landed", http.StatusFound)
		case "/near":
			http.Redirect(w, r, origin.URL+"/here", http.StatusFound)
		case "/here":
			got.Store("same", r.Header.Clone())
		}
	}))
	defer origin.Close()
	c := httpx.New(httpx.Options{Retries: -1})
	for _, path := range []string{"/away", "/near"} {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+path, nil)
		for _, h := range []string{"Circle-Token", "DD-API-KEY", "DD-APPLICATION-KEY", "Authorization", "X-Api-Key"} {
			req.Header.Set(h, "secret-"+h)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	h, _ := got.Load("other")
	for k := range h.(http.Header) {
		if k != "User-Agent" && k != "Accept-Encoding" {
			t.Errorf("header %s followed the redirect to another origin", k)
		}
	}
	same, _ := got.Load("same")
	if same.(http.Header).Get("X-Api-Key") != "secret-X-Api-Key" || same.(http.Header).Get("Circle-Token") == "" {
		t.Errorf("same-origin redirect lost its headers: %v", same)
	}
}

// A 307/308 keeps a POST's body, where a credential may be (Slack's token
// is a form field): it is refused across origins and followed within one.
func TestRedirectKeepsBodyWithinOrigin(t *testing.T) {
	var otherGot atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherGot.Add(1) }))
	defer other.Close()
	var origin *httptest.Server
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/away":
			http.Redirect(w, r, other.URL+"/landed", http.StatusTemporaryRedirect)
		case "/near":
			http.Redirect(w, r, origin.URL+"/here", http.StatusPermanentRedirect)
		case "/here":
			body, _ := io.ReadAll(r.Body)
			w.Write(body)
		}
	}))
	defer origin.Close()
	c := httpx.New(httpx.Options{Retries: -1})
	post := func(path string) (*http.Response, error) {
		req, _ := http.NewRequest(http.MethodPost, origin.URL+path, strings.NewReader("token=xoxb-secret-123"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return c.Do(req)
	}
	if _, err := post("/away"); err == nil || !strings.Contains(err.Error(), "re-send the request body") {
		t.Errorf("a POST redirected to another origin: %v, want it refused", err)
	}
	if otherGot.Load() != 0 {
		t.Error("the other origin received the POST")
	}
	resp, err := post("/near")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); string(b) != "token=xoxb-secret-123" {
		t.Errorf("same-origin 308 lost the body: %q", b)
	}
}

// A server may copy what it received (a query's token, a header's value)
// into the Location of a redirect to another origin: the headers are
// dropped, but the URL itself would carry the secret there. Such a
// redirect is refused, in whatever form the secret is written; the same
// one within the origin, or without a secret, is followed.
func TestRedirectURLNeverCarriesASecretAway(t *testing.T) {
	var otherGot atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { otherGot.Add(1) }))
	defer other.Close()
	var origin *httptest.Server
	origin = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to := other.URL
		if r.URL.Query().Get("near") != "" {
			to = origin.URL
		}
		switch r.URL.Path {
		case "/query":
			http.Redirect(w, r, to+"/landed?code="+url.QueryEscape(r.URL.Query().Get("code")), http.StatusMovedPermanently)
		case "/header":
			http.Redirect(w, r, to+"/landed/"+url.PathEscape(r.Header.Get("Circle-Token")), http.StatusSeeOther)
		case "/plain":
			http.Redirect(w, r, to+"/landed", http.StatusFound)
		case "/page":
			http.Redirect(w, r, to+"/landed?page="+r.URL.Query().Get("page"), http.StatusFound)
		}
	}))
	defer origin.Close()
	red := httpx.NewRedactor("ct/Secret 42+")
	red.ShowQuery("page") // the user's word that its values are not secret
	red.AddURL(mustURL(t, origin.URL+"/query?code=q%2BSecret+7&page=2000"))
	// Retries allowed: a refused redirect is not one to retry, since the
	// server would answer the same.
	c := httpx.New(httpx.Options{Retries: 3, WaitMin: time.Millisecond, WaitMax: time.Millisecond, Redactor: red})
	get := func(path string) error {
		req, _ := http.NewRequest(http.MethodGet, origin.URL+path, nil)
		req.Header.Set("Circle-Token", "ct/Secret 42+")
		resp, err := c.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		return err
	}
	for _, path := range []string{"/query?code=q%2BSecret+7", "/header"} {
		err := get(path)
		if err == nil || !strings.Contains(err.Error(), "holds a value this run keeps secret") || !strings.Contains(err.Error(), "after 1 attempt(s)") {
			t.Errorf("%s: %v, want the redirect refused at once", path, err)
		}
		if err != nil && strings.Contains(err.Error(), "Secret") {
			t.Errorf("%s: the error shows the secret: %v", path, err)
		}
	}
	if n := otherGot.Load(); n != 0 {
		t.Fatalf("the other origin received %d request(s) whose URL held a secret", n)
	}
	for _, path := range []string{"/plain", "/page?page=2000", "/query?near=1&code=q%2BSecret+7", "/header?near=1"} {
		if err := get(path); err != nil {
			t.Errorf("%s: %v, want it followed", path, err)
		}
	}
	if n := otherGot.Load(); n != 2 {
		t.Errorf("the other origin received %d request(s), want the two without a secret", n)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSameOrigin(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"https://h/x", "https://h:443/y", true},
		{"https://h/x", "http://h/x", false},
		{"https://h/x", "https://h:8443/x", false},
		{"https://h/x", "https://evil.h/x", false},
		{"http://H:80/", "http://h/", true},
	}
	for _, c := range cases {
		a, _ := http.NewRequest("GET", c.a, nil)
		b, _ := http.NewRequest("GET", c.b, nil)
		if got := httpx.SameOrigin(a.URL, b.URL); got != c.want {
			t.Errorf("SameOrigin(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// A Retry-After that would end past the caller's deadline is not waited
// out: the request fails at once, saying the server asked to wait and how
// much time was left. The cap does not hide it: an hour asked with a
// minute left is refused, not waited for as 60 s and tried again.
func TestRetryAfterNeverPastTheDeadline(t *testing.T) {
	for _, tc := range []struct {
		status      int
		retryAfter  string
		asked       time.Duration
		askedString string
	}{
		{http.StatusTooManyRequests, "3600", time.Hour, "asked to wait 1h0m0s"},
		{http.StatusServiceUnavailable, "3600", time.Hour, "asked to wait 1h0m0s"},
		// Too large for a time.Duration: a wait past any deadline, not a
		// negative one retried at once, and said readably.
		{http.StatusTooManyRequests, "1e30", httpx.MaxAsked, "asked to wait more than 168h0m0s"},
	} {
		status := tc.status
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.Header().Set("Retry-After", tc.retryAfter)
			w.WriteHeader(status)
		}))
		c := httpx.New(httpx.Options{Retries: 3})
		// A deadline far past one request even on a loaded machine, and far
		// short of the hour asked for: the context ends only if it was waited.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		resp, err := c.Get(ctx, srv.URL+"/x?token=tok-Secret-1", nil)
		var we *httpx.WaitError
		if !errors.As(err, &we) || we.Status != status || we.Asked != tc.asked || we.Left <= 0 || we.Left > time.Minute || we.Attempts != 1 {
			t.Fatalf("HTTP %d, Retry-After %s: resp %v, err %v: want a WaitError", status, tc.retryAfter, resp, err)
		}
		for _, want := range []string{fmt.Sprintf("HTTP %d", status), tc.askedString, "left before the deadline", "not waited for", "after 1 attempt(s)"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q lacks %q", err, want)
			}
		}
		if strings.Contains(err.Error(), "tok-Secret-1") {
			t.Errorf("error %q shows the query", err)
		}
		if calls.Load() != 1 || ctx.Err() != nil {
			t.Fatalf("%d calls, ctx %v: waited for Retry-After past the deadline", calls.Load(), ctx.Err())
		}
		cancel()
		srv.Close()
	}
}

// A Retry-After within the deadline is waited for; without a deadline the
// cap bounds it.
func TestRetryAfterWithinTheDeadlineIsWaited(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.Header().Set("Retry-After", "0.05")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	c := httpx.New(httpx.Options{Retries: 3})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := c.Get(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || calls.Load() != 2 {
		t.Fatalf("status %d after %d calls", resp.StatusCode, calls.Load())
	}
}

// Retry-After is capped at MaxRetryAfter: with a cap of 1 ms, a server asking
// for an hour is retried at once, every attempt counted.
func TestRetryAfterIsCapped(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) < 3 {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	c := httpx.New(httpx.Options{Retries: 3, MaxRetryAfter: time.Millisecond})
	resp, err := c.Get(context.Background(), srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || calls.Load() != 3 || c.Paused() != 2 {
		t.Fatalf("status %d, calls %d, pauses %d", resp.StatusCode, calls.Load(), c.Paused())
	}
}

// After one 429, every concurrent request to that host waits the shared
// pause: the server sees no request inside the window it asked for.
func TestOneSharedPausePerHost(t *testing.T) {
	var mu sync.Mutex
	var limitedAt time.Time
	var early int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		now := time.Now()
		if limitedAt.IsZero() {
			limitedAt = now
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		if now.Sub(limitedAt) < 900*time.Millisecond && r.Header.Get("X-Started") == "late" {
			early++
		}
	}))
	defer srv.Close()
	c := httpx.New(httpx.Options{Retries: 2})
	first, _ := http.NewRequest("GET", srv.URL, nil)
	resp, err := c.Do(first)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", srv.URL, nil)
			req.Header.Set("X-Started", "late")
			if resp, err := c.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if early != 0 {
		t.Fatalf("%d requests were sent inside the pause another request's 429 asked for", early)
	}
}

// A transport error reports the attempts actually made.
func TestAttemptsCounted(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	url := srv.URL
	srv.Close()
	c := httpx.New(httpx.Options{Retries: 2, WaitMin: time.Millisecond, WaitMax: 2 * time.Millisecond})
	_, err := c.Get(context.Background(), url, nil)
	if err == nil || !contains(err.Error(), "after 3 attempt(s)") {
		t.Fatalf("err = %v", err)
	}
	c = httpx.New(httpx.Options{Retries: -1})
	_, err = c.Get(context.Background(), url, nil)
	if err == nil || !contains(err.Error(), "after 1 attempt(s)") {
		t.Fatalf("err = %v", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// http → https on the same host is the redirect most servers send to plain
// http: the secret goes to no one new, only encrypted, so it is followed;
// any other move of a URL holding a secret is refused.
func TestRedirectUpgradeKeepsTheSecretsQuery(t *testing.T) {
	red := httpx.NewRedactor()
	red.AddURL(mustURL(t, "http://api.example.com/health?code=q-Secret-7"))
	cases := []struct {
		from, to string
		follow   bool
	}{
		{"http://api.example.com/health?code=q-Secret-7", "https://api.example.com/health?code=q-Secret-7", true},
		{"http://api.example.com:80/health?code=q-Secret-7", "https://api.example.com:443/health?code=q-Secret-7", true},
		{"https://api.example.com/health?code=q-Secret-7", "http://api.example.com/health?code=q-Secret-7", false},
		{"http://api.example.com/health?code=q-Secret-7", "https://api.example.com:8443/health?code=q-Secret-7", false},
		{"http://api.example.com/health?code=q-Secret-7", "https://cdn.example.com/health?code=q-Secret-7", false},
	}
	for _, c := range cases {
		from, _ := http.NewRequest(http.MethodGet, c.from, nil)
		to, _ := http.NewRequest(http.MethodGet, c.to, nil)
		err := red.CheckRedirect(to, []*http.Request{from})
		if (err == nil) != c.follow {
			t.Errorf("%s -> %s: %v, want followed %v", c.from, c.to, err, c.follow)
		}
	}
}
