package httpx_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// sequence serves the given statuses in order, then the last one forever,
// and counts requests.
type sequence struct {
	statuses []int
	header   http.Header
	n        atomic.Int64
	ua       atomic.Value
}

func (s *sequence) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	i := int(s.n.Add(1)) - 1
	s.ua.Store(r.UserAgent())
	if i >= len(s.statuses) {
		i = len(s.statuses) - 1
	}
	for k, v := range s.header {
		w.Header()[k] = v
	}
	w.WriteHeader(s.statuses[i])
	io.WriteString(w, "answer "+http.StatusText(s.statuses[i]))
}

func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// fast retries: the waits are real but tiny; tests count requests, never time.
func fastClient(o httpx.Options) *httpx.Client {
	o.WaitMin, o.WaitMax = time.Millisecond, 2*time.Millisecond
	return httpx.New(o)
}

func TestDoRetriesAndReturnsTheFinalResponse(t *testing.T) {
	tests := []struct {
		name         string
		statuses     []int
		retries      int
		wantStatus   int
		wantRequests int64
	}{
		{"5xx then success", []int{500, 502, 200}, 3, 200, 3},
		{"429 then success", []int{429, 200}, 3, 200, 2},
		{"always 503 returns the last 503", []int{503}, 3, 503, 4},
		{"always 429 returns the last 429", []int{429}, 2, 429, 3},
		{"501 is not retried", []int{501, 200}, 3, 501, 1},
		{"404 is not retried", []int{404, 200}, 3, 404, 1},
		{"negative retries means one attempt", []int{500, 200}, -1, 500, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seq := &sequence{statuses: tt.statuses}
			srv := serve(t, seq)
			c := fastClient(httpx.Options{Retries: tt.retries})
			resp, err := c.Get(context.Background(), srv.URL, nil)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if want := "answer " + http.StatusText(tt.wantStatus); string(body) != want {
				t.Errorf("body %q, want %q (the caller must be able to read an API error)", body, want)
			}
			if got := seq.n.Load(); got != tt.wantRequests {
				t.Errorf("%d requests, want %d", got, tt.wantRequests)
			}
		})
	}
}

// closingListener accepts connections and closes them at once, so every
// request fails in transport; it counts the connections.
func closingListener(t *testing.T) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = &atomic.Int64{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), accepted
}

func TestDoBoundedRetriesFinalError(t *testing.T) {
	addr, accepted := closingListener(t)
	var logged []string
	var mu sync.Mutex
	c := fastClient(httpx.Options{Retries: 2, Log: func(m string) { mu.Lock(); logged = append(logged, m); mu.Unlock() }})
	_, err := c.Get(context.Background(), "http://"+addr+"/health", nil)
	if err == nil {
		t.Fatal("want an error from a server that closes every connection")
	}
	if got := accepted.Load(); got != 3 {
		t.Errorf("%d connections, want 3 (1 + 2 retries)", got)
	}
	msg := err.Error()
	for _, want := range []string{"GET http://" + addr + "/health", "after 3 attempt(s)"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 2 || !strings.Contains(logged[1], "retry 2 of 2") {
		t.Errorf("retry log lines: %q", logged)
	}
}

func TestDoTimeoutPerAttempt(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int64
	arrived := make(chan struct{}, 10)
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		arrived <- struct{}{}
		select { // never answers; returns when the client gives up
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	// Long enough for a loaded machine to send each request in time.
	c := fastClient(httpx.Options{Timeout: 500 * time.Millisecond, Retries: 1})
	_, err := c.Get(context.Background(), srv.URL, nil)
	if err == nil {
		t.Fatal("want a timeout error")
	}
	if !strings.Contains(err.Error(), "after 2 attempt(s)") || !strings.Contains(err.Error(), "Timeout") {
		t.Errorf("error %q should say it timed out after 2 attempts", err)
	}
	// The server may reach a given-up request's handler after Get returned.
	for i := 0; i < 2; i++ {
		select {
		case <-arrived:
		case <-time.After(10 * time.Second):
			t.Fatalf("%d requests reached the server, want 2", n.Load())
		}
	}
	if got := n.Load(); got != 2 {
		t.Errorf("%d requests, want 2", got)
	}
}

func TestDoStopsWhenContextEnds(t *testing.T) {
	answered := make(chan struct{})
	var once sync.Once
	var n atomic.Int64
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusServiceUnavailable)
		once.Do(func() { close(answered) })
	}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the first answer is in: the client must not sit out the
	// hour-long Retry-After.
	go func() { <-answered; cancel() }()
	c := httpx.New(httpx.Options{Retries: 5, WaitMax: 2 * time.Hour})
	_, err := c.Get(ctx, srv.URL, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if got := n.Load(); got != 1 {
		t.Errorf("%d requests, want 1", got)
	}
}

func TestUserAgent(t *testing.T) {
	tests := []struct {
		version, set, want string
	}{
		{"1.2.3", "", "pmguard/1.2.3"},
		{"", "", "pmguard/dev"},
		{"1.2.3", "custom/1", "custom/1"},
	}
	for _, tt := range tests {
		seq := &sequence{statuses: []int{200}}
		srv := serve(t, seq)
		c := httpx.New(httpx.Options{Version: tt.version})
		hdr := http.Header{}
		if tt.set != "" {
			hdr.Set("User-Agent", tt.set)
		}
		resp, err := c.Get(context.Background(), srv.URL, hdr)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := seq.ua.Load(); got != tt.want {
			t.Errorf("version %q, header %q: server saw User-Agent %q, want %q", tt.version, tt.set, got, tt.want)
		}
		if tt.set == "" && c.UserAgent() != tt.want {
			t.Errorf("UserAgent() = %q, want %q", c.UserAgent(), tt.want)
		}
	}
}

func TestNoRedirect(t *testing.T) {
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/from" {
			http.Redirect(w, r, "/to", http.StatusFound)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	for _, tt := range []struct {
		noRedirect bool
		want       int
	}{{false, 200}, {true, 302}} {
		resp, err := httpx.New(httpx.Options{NoRedirect: tt.noRedirect}).Get(context.Background(), srv.URL+"/from", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("NoRedirect=%v: status %d, want %d", tt.noRedirect, resp.StatusCode, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	min, max := 100*time.Millisecond, 2*time.Second
	resp := func(code int, retryAfter string) *http.Response {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		return &http.Response{StatusCode: code, Header: h}
	}
	exact := []struct {
		name string
		resp *http.Response
		want time.Duration
	}{
		{"429 Retry-After seconds", resp(429, "1"), time.Second},
		{"503 Retry-After seconds", resp(503, "1"), time.Second},
		{"429 Retry-After capped at max", resp(429, "120"), max},
		{"429 Retry-After HTTP date capped", resp(429, time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)), max},
		{"429 Retry-After 0", resp(429, "0"), 0},
	}
	for _, tt := range exact {
		if got := httpx.Backoff(min, max, 0, tt.resp); got != tt.want {
			t.Errorf("%s: backoff %v, want %v", tt.name, got, tt.want)
		}
	}
	// Without Retry-After (or on a status that does not carry one) the wait is
	// exponential with full jitter: within [min, min*2^attempt], capped.
	ranged := []struct {
		name    string
		resp    *http.Response
		attempt int
		hi      time.Duration
	}{
		{"transport error, first retry", nil, 0, min},
		{"500 ignores Retry-After", resp(500, "60"), 1, 2 * min},
		{"429 without Retry-After", resp(429, ""), 2, 4 * min},
		{"429 with garbage Retry-After", resp(429, "soon"), 3, 8 * min},
		{"capped at max", nil, 30, max},
	}
	for _, tt := range ranged {
		for i := 0; i < 200; i++ {
			got := httpx.Backoff(min, max, tt.attempt, tt.resp)
			if got < min || got > tt.hi {
				t.Fatalf("%s: backoff %v outside [%v, %v]", tt.name, got, min, tt.hi)
			}
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value  string
		want   time.Duration
		wantOK bool
	}{
		{"", 0, false},
		{"120", 120 * time.Second, true},
		{" 5 ", 5 * time.Second, true},
		{"0", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{"-3", 0, false},
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		// Past time.Duration's range, or a date centuries away: read as
		// the longest wait, never as a negative one (an immediate retry).
		{"1e30", httpx.MaxAsked, true},
		{"99999999999999", httpx.MaxAsked, true},
		{"Fri, 31 Dec 9999 23:59:59 GMT", httpx.MaxAsked, true},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.value != "" {
			h.Set("Retry-After", tt.value)
		}
		got, ok := httpx.RetryAfter(h, now)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("RetryAfter(%q) = %v, %v; want %v, %v", tt.value, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestReadLimited(t *testing.T) {
	tests := []struct {
		size, limit int
		wantLen     int
		wantTooBig  bool
	}{
		{0, 10, 0, false},
		{10, 10, 10, false},
		{11, 10, 10, true},
		{1 << 20, 100, 100, true},
	}
	for _, tt := range tests {
		r := &countingReader{left: tt.size}
		b, tooBig, err := httpx.ReadLimited(r, int64(tt.limit))
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != tt.wantLen || tooBig != tt.wantTooBig {
			t.Errorf("size %d limit %d: got %d bytes, tooBig %v; want %d, %v", tt.size, tt.limit, len(b), tooBig, tt.wantLen, tt.wantTooBig)
		}
		if r.read > tt.limit+1 {
			t.Errorf("size %d limit %d: read %d bytes from the source, want at most limit+1", tt.size, tt.limit, r.read)
		}
	}
}

type countingReader struct{ left, read int }

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left)
	for i := range p[:n] {
		p[i] = 'x'
	}
	r.left -= n
	r.read += n
	return n, nil
}

func TestRedactURL(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		secrets []string
	}{
		{"https://api.example.com/health", "https://api.example.com/health", nil},
		{"https://user:hunter2pw@api.example.com/health", "https://REDACTED@api.example.com/health", []string{"hunter2pw", "user:"}},
		{"https://ghp_tokenvalue@api.example.com/", "https://REDACTED@api.example.com/", []string{"ghp_tokenvalue"}},
		{"https://api.example.com/h?token=s3cr3t&page=2", "https://api.example.com/h?page=REDACTED&token=REDACTED", []string{"s3cr3t"}},
		// Any query value may be a secret (?code=, ?pwd=): all are hidden, names stay.
		{"https://api.example.com/h?pwd=hunter2&code=x9y8z7", "https://api.example.com/h?code=REDACTED&pwd=REDACTED", []string{"hunter2", "x9y8z7"}},
		{"https://api.example.com/h?api_key=k1&X-Amz-Signature=abc123&sig=zz9", "", []string{"k1", "abc123", "zz9"}},
		{"https://api.example.com/h?page=2", "https://api.example.com/h?page=REDACTED", nil},
		// Unparseable URLs must not leak either.
		{"http://user:pw-secret@host:badport/x?token=t0ken", "", []string{"pw-secret", "t0ken"}},
	}
	for _, tt := range tests {
		got := httpx.RedactURL(tt.in)
		if tt.want != "" && got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, s := range tt.secrets {
			if strings.Contains(got, s) {
				t.Errorf("RedactURL(%q) = %q still holds %q", tt.in, got, s)
			}
		}
	}
}

func TestURLSecrets(t *testing.T) {
	tests := []struct {
		raw  string
		want []string
	}{
		{"https://h/x", nil},
		{"https://u:pw-1@h/x", []string{"dTpwdy0x", "pw-1"}},
		{"https://tok-as-user@h/x", []string{"dG9rLWFzLXVzZXI6", "tok-as-user"}},
		{"https://h/x?token=t1&page=2&api_key=k2", []string{"2", "k2", "t1"}},
		// Both forms of an escaped value: a server may echo either. User
		// info also as the Basic authorization net/http sends for it.
		{"https://u:p%40ss-1@h/x?sig=a%2Fb%3Dc", []string{"a%2Fb%3Dc", "a/b=c", "dTpwQHNzLTE=", "p%40ss-1", "p@ss-1"}},
		// A pair that does not parse is sent as written, so it is the secret.
		{"https://h/x?sig=ab%zz-cd;k=v", []string{"sig=ab%zz-cd", "v"}},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.raw)
		if err != nil {
			t.Fatal(err)
		}
		got := httpx.URLSecrets(u)
		sort.Strings(got)
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("URLSecrets(%q) = %q, want %q", tt.raw, got, tt.want)
		}
	}
}

func TestShowQuery(t *testing.T) {
	u, _ := url.Parse("https://h.example/x?page=2&region=eu-west&code=c0de-9&token=t0k-1")
	r := httpx.NewRedactor()
	r.ShowQuery("page", "region")
	r.AddURL(u)
	if got, want := r.URL(u.String()), "https://h.example/x?code=REDACTED&page=2&region=eu-west&token=REDACTED"; got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
	if got := r.Redact("region eu-west, code c0de-9, token t0k-1"); got != "region eu-west, code [REDACTED], token [REDACTED]" {
		t.Errorf("Redact = %q: shown values stay, the others go", got)
	}
	if got := httpx.URLSecrets(u, "page", "region"); len(got) != 2 {
		t.Errorf("URLSecrets with shown names = %q, want the code and token values", got)
	}
	var none *httpx.Redactor
	if got := none.URL(u.String()); strings.Contains(got, "eu-west") || strings.Contains(got, "c0de-9") {
		t.Errorf("a nil Redactor shows nothing: %q", got)
	}
}

func TestRedactor(t *testing.T) {
	r := httpx.NewRedactor("Bearer-abcdef123", "abc") // "abc" is too short to redact
	r.Add("second-secret")
	got := r.Redact("auth Bearer-abcdef123 and second-secret, abc stays")
	if want := "auth [REDACTED] and [REDACTED], abc stays"; got != want {
		t.Errorf("Redact = %q, want %q", got, want)
	}
	// A secret holding another is replaced whole, whichever came first.
	nested := httpx.NewRedactor("tok-1234")
	nested.Add("tok-1234-tail-5678", "tok-1234")
	if got := nested.Redact("a tok-1234-tail-5678 b tok-1234"); got != "a [REDACTED] b [REDACTED]" {
		t.Errorf("nested secrets: %q", got)
	}
	var nilR *httpx.Redactor
	if nilR.Redact("x second-secret") != "x second-secret" {
		t.Error("a nil Redactor must leave text alone")
	}
	nilR.Add("no panic")

	base := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	wrapped := r.Error(errors.Join(errors.New("token second-secret"), base))
	if strings.Contains(wrapped.Error(), "second-secret") {
		t.Errorf("Error() = %q holds the secret", wrapped)
	}
	if !errors.Is(wrapped, syscall.ECONNREFUSED) {
		t.Error("a redacted error must keep its chain for errors.Is")
	}
	plain := errors.New("nothing secret")
	if r.Error(plain) != plain || r.Error(nil) != nil {
		t.Error("errors without a secret should be returned as they are")
	}

	// Safe for concurrent use.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); r.Add("concurrent-secret") }()
		go func() { defer wg.Done(); _ = r.Redact("concurrent-secret") }()
	}
	wg.Wait()
}

// TestRedactorKnowsEscapedForms: a server quotes what it received as it
// writes text, escaped: percent-encoded in a URL (a path or a query, as
// its request line or a Location), in HTML, or as a JSON string. A secret
// holding characters those escape is found in each form, in the message
// DoJSON makes of a server's answer too.
func TestRedactorKnowsEscapedForms(t *testing.T) {
	const secret = `p@ss/w rd+"<&>1`
	r := httpx.NewRedactor(secret)
	for _, form := range []string{
		"p@ss%2Fw%20rd+%22%3C&%3E1",       // url.PathEscape
		"p%40ss%2Fw+rd%2B%22%3C%26%3E1",   // url.QueryEscape
		`p@ss/w rd+\"\u003c\u0026\u003e1`, // JSON, HTML-safe (Go's default)
		`p@ss/w rd+\"<&>1`,                // JSON
		"p@ss/w rd+&#34;&lt;&amp;&gt;1",   // HTML
	} {
		if got := r.Redact("got " + form + "."); got != "got [REDACTED]." {
			t.Errorf("Redact(%q) = %q", form, got)
		}
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"echo":{"path":%q,"key":%q}}`, req.URL.RawQuery, req.Header.Get("X-Api-Key"))
	}))
	defer srv.Close()
	c := httpx.New(httpx.Options{Retries: -1, Redactor: r})
	_, err := c.DoJSON(context.Background(), "API", http.MethodGet, srv.URL+"/x?k="+url.QueryEscape(secret), http.Header{"X-Api-Key": {secret}}, nil, nil)
	if err == nil || strings.Contains(err.Error(), "ss") {
		t.Errorf("DoJSON error %v: want one without the secret in any form", err)
	}
}

// TestErrorsNeverHoldSecrets checks that transport errors returned by Do do
// not hold the URL's user info, its token query values or registered secrets.
func TestErrorsNeverHoldSecrets(t *testing.T) {
	addr, _ := closingListener(t)
	refused := freeAddr(t)
	for _, host := range []string{addr, refused, "pmguard-test.invalid"} {
		raw := "http://deploy-user:pw-hunter22@" + host + "/health?token=q-s3cr3t-val&page=1"
		red := httpx.NewRedactor("Bearer-header-secret")
		c := fastClient(httpx.Options{Retries: 1, Redactor: red})
		req, _ := http.NewRequest(http.MethodGet, raw, nil)
		req.Header.Set("Authorization", "Bearer-header-secret")
		_, err := c.Do(req)
		if err == nil {
			t.Fatalf("%s: want an error", host)
		}
		msg := err.Error()
		for _, secret := range []string{"pw-hunter22", "q-s3cr3t-val", "deploy-user", "Bearer-header-secret"} {
			if strings.Contains(msg, secret) {
				t.Errorf("%s: error %q holds %q", host, msg, secret)
			}
		}
		if !strings.Contains(msg, "REDACTED") {
			t.Errorf("%s: error %q should show where the secret was", host, msg)
		}
	}
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

func TestTLSConfig(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caPEM := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	ca := write("ca.pem", caPEM)
	notPEM := write("not.pem", "hello, not a certificate")
	cert, key := writeKeyPair(t, dir)

	tests := []struct {
		name                string
		ca, cert, key       string
		insecure            bool
		wantErr             string // "" = ok
		wantNil, wantClient bool
	}{
		{name: "nothing set gives the default", wantNil: true},
		{name: "insecure", insecure: true},
		{name: "ca file", ca: ca},
		{name: "missing ca file", ca: filepath.Join(dir, "nope.pem"), wantErr: "nope.pem"},
		{name: "ca file not PEM", ca: notPEM, wantErr: "holds no PEM certificate"},
		{name: "cert without key", cert: cert, wantErr: "needs both"},
		{name: "key without cert", key: key, wantErr: "needs both"},
		{name: "cert and key", cert: cert, key: key, wantClient: true},
		{name: "key is not a key", cert: cert, key: notPEM, wantErr: "client certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conf, err := httpx.TLSConfig(tt.ca, tt.cert, tt.key, tt.insecure)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "hello, not a certificate") {
					t.Error("the error must not print the file's contents")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantNil != (conf == nil) {
				t.Fatalf("config %v, want nil: %v", conf, tt.wantNil)
			}
			if conf == nil {
				return
			}
			if conf.InsecureSkipVerify != tt.insecure {
				t.Errorf("InsecureSkipVerify = %v", conf.InsecureSkipVerify)
			}
			if tt.wantClient != (len(conf.Certificates) == 1) {
				t.Errorf("client certificates: %d", len(conf.Certificates))
			}
			if tt.ca != "" || tt.insecure {
				// The configuration must actually reach the test server.
				c := httpx.New(httpx.Options{TLS: conf, Retries: -1})
				resp, err := c.Get(context.Background(), srv.URL, nil)
				if err != nil {
					t.Fatalf("request with this TLS config: %v", err)
				}
				resp.Body.Close()
			}
		})
	}
	// Without the CA the same server is refused, and not retried.
	c := fastClient(httpx.Options{Retries: 3})
	if _, err := c.Get(context.Background(), srv.URL, nil); err == nil || !strings.Contains(err.Error(), "after 1 attempt(s)") {
		t.Errorf("unknown CA: err = %v, want a certificate error after 1 attempt", err)
	}
}

// writeKeyPair writes a fresh self-signed certificate and its key as PEM files.
func writeKeyPair(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "pmguard test client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, "client.pem")
	keyFile = filepath.Join(dir, "client.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
