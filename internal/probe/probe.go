// Package probe sends one HTTP request and returns its figures, in the manner
// of Prometheus blackbox_exporter's prober: the time of each phase (DNS,
// connect, TLS, first byte, transfer), status, body size, protocol, the
// server certificate's expiry, and why it failed, classified. It never
// retries: health's poll loop and canary's open-loop schedule decide when the
// next attempt goes.
package probe

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"sync"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// MaxBody bounds what one attempt reads of a body: enough for any health
// document, small enough that a 1 GB body costs nothing.
const MaxBody = 1 << 20

// Config is what every attempt of a prober shares.
type Config struct {
	Method    string      // "" is GET
	Header    http.Header // sent with every request; a Host header sets the request's host
	UserAgent string      // unless Header names one
	Timeout   time.Duration
	TLS       *tls.Config // nil: system roots
	// NoFollow returns a 3xx response instead of following it; followed
	// redirects go by httpx's rule (credentials stay with their origin).
	NoFollow bool
	// Redactor knows the run's secrets: a redirect to another origin
	// whose URL holds one is refused. nil: none known.
	Redactor *httpx.Redactor
	// Conns is how many connections per host are kept for reuse, at least
	// (a busy open-loop probe needs one per slot).
	Conns int
	// KeepBody keeps what was read of the body in the Result.
	KeepBody bool
	// Transport overrides the transport (tests); nil builds one.
	Transport http.RoundTripper
	// Now is the clock the figures are measured on; nil is time.Now.
	Now func() time.Time
}

// Prober sends attempts; it is safe for concurrent use.
type Prober struct {
	c      Config
	client *http.Client
}

// New returns a prober over its own transport.
func New(c Config) *Prober {
	if c.Method == "" {
		c.Method = http.MethodGet
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	tr := c.Transport
	if tr == nil {
		t := httpx.NewTransport(c.TLS)
		if t.MaxIdleConnsPerHost < c.Conns {
			t.MaxIdleConnsPerHost, t.MaxIdleConns = c.Conns, 2*c.Conns
		}
		tr = t
	}
	client := &http.Client{Transport: tr, CheckRedirect: c.Redactor.CheckRedirect}
	if c.NoFollow {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	return &Prober{c: c, client: client}
}

// Timeout is the time one attempt is allowed, body included.
func (p *Prober) Timeout() time.Duration { return p.c.Timeout }

// Result is one attempt's figures. Phases that did not happen (a reused
// connection has no DNS, connect or TLS) are zero.
type Result struct {
	Start    time.Time
	DNS      time.Duration
	Connect  time.Duration
	TLS      time.Duration
	TTFB     time.Duration // from Start to the first response byte
	Transfer time.Duration // from the first byte to the end of the body read
	Total    time.Duration // from Start to the end of the body read
	// Answered is when the response headers arrived (zero without a response).
	Answered time.Time

	Status    int
	Proto     string // "HTTP/1.1", "HTTP/2.0"
	BodyBytes int64  // read, at most MaxBody
	Body      []byte // with Config.KeepBody
	Truncated bool   // the body was longer than MaxBody
	// CertExpiry is when the server's leaf certificate expires (zero for
	// plain HTTP).
	CertExpiry time.Time
	// RetryAfter is what a 429 or 503 asked for, as the server said it.
	RetryAfter time.Duration

	// Err is why the attempt got no complete response (nil: it did; any
	// status counts as a response). Kind and Reason classify it.
	Err    error
	Kind   Kind
	Reason string
}

// End is when the attempt ended.
func (r Result) End() time.Time { return r.Start.Add(r.Total) }

// phases records httptrace's times; a dial may finish in the background
// after the request took another connection, hence the lock.
type phases struct {
	mu                                                            sync.Mutex
	now                                                           func() time.Time
	dnsStart, dnsDone, connStart, connDone, tlsStart, tlsDone, fb time.Time
}

func (ph *phases) mark(t *time.Time) {
	ph.mu.Lock()
	*t = ph.now()
	ph.mu.Unlock()
}

func (ph *phases) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		DNSStart:             func(httptrace.DNSStartInfo) { ph.mark(&ph.dnsStart) },
		DNSDone:              func(httptrace.DNSDoneInfo) { ph.mark(&ph.dnsDone) },
		ConnectStart:         func(string, string) { ph.mark(&ph.connStart) },
		ConnectDone:          func(string, string, error) { ph.mark(&ph.connDone) },
		TLSHandshakeStart:    func() { ph.mark(&ph.tlsStart) },
		TLSHandshakeDone:     func(tls.ConnectionState, error) { ph.mark(&ph.tlsDone) },
		GotFirstResponseByte: func() { ph.mark(&ph.fb) },
	}
}

func span(a, b time.Time) time.Duration {
	if a.IsZero() || b.IsZero() {
		return 0
	}
	return b.Sub(a)
}

func (ph *phases) fill(r *Result, end time.Time) {
	ph.mu.Lock()
	defer ph.mu.Unlock()
	r.DNS = span(ph.dnsStart, ph.dnsDone)
	r.Connect = span(ph.connStart, ph.connDone)
	r.TLS = span(ph.tlsStart, ph.tlsDone)
	r.TTFB = span(r.Start, ph.fb)
	r.Transfer = span(ph.fb, end)
}

// Probe sends one request to url and reads the response (bounded). ctx is
// the caller's whole run: when it ends, the Result says so rather than
// blaming the attempt's timeout.
func (p *Prober) Probe(ctx context.Context, url string) Result {
	ph := &phases{now: p.c.Now}
	r := Result{Start: p.c.Now()}
	actx, cancel := context.WithTimeout(ctx, p.c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(actx, ph.trace()), p.c.Method, url, nil)
	if err != nil {
		r.Err, r.Kind, r.Reason = err, KindRequest, fmt.Sprintf("cannot build request: %v", bare(err))
		return r
	}
	for k, v := range p.c.Header {
		req.Header[k] = v
	}
	if req.Header.Get("User-Agent") == "" && p.c.UserAgent != "" {
		req.Header.Set("User-Agent", p.c.UserAgent)
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return p.fail(r, ph, ctx, actx, err, false)
	}
	defer resp.Body.Close()
	r.Answered, r.Status, r.Proto = p.c.Now(), resp.StatusCode, resp.Proto
	if resp.TLS != nil && len(resp.TLS.PeerCertificates) > 0 {
		r.CertExpiry = resp.TLS.PeerCertificates[0].NotAfter
	}
	if r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable {
		r.RetryAfter, _ = httpx.RetryAfter(resp.Header, r.Answered)
	}
	// The body is part of the response: reading it (bounded) makes its
	// time count and lets the connection be reused.
	var buf bytes.Buffer
	var sink io.Writer = io.Discard
	if p.c.KeepBody {
		sink = &buf
	}
	n, err := io.Copy(sink, io.LimitReader(resp.Body, MaxBody+1))
	r.BodyBytes, r.Truncated = min(n, MaxBody), n > MaxBody
	if p.c.KeepBody {
		r.Body = buf.Bytes()[:r.BodyBytes]
	}
	if err != nil {
		return p.fail(r, ph, ctx, actx, err, true)
	}
	r.Total = p.c.Now().Sub(r.Start)
	ph.fill(&r, r.End())
	return r
}

func (p *Prober) fail(r Result, ph *phases, run, attempt context.Context, err error, inBody bool) Result {
	r.Total = p.c.Now().Sub(r.Start)
	ph.fill(&r, r.End())
	r.Err = err
	r.Kind, r.Reason = classify(run, attempt, err, inBody, p.c.Timeout)
	return r
}
