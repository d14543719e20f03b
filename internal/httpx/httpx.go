// Package httpx builds pmguard's one outbound HTTP client on go-retryablehttp:
// per-request timeouts, bounded retries with exponential backoff and full
// jitter, Retry-After honoured on 429 and 503, a pmguard User-Agent, and
// secrets redacted from every error it returns.
package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"

	"github.com/pmguard/pmguard/internal/clock"
)

// Options configures a Client. The zero value is usable: 10 s per request,
// 3 retries, 500 ms to 30 s backoff, Retry-After honoured up to 60 s.
type Options struct {
	Version string        // for the User-Agent: pmguard/<version>
	Timeout time.Duration // per attempt, including reading the headers
	Retries int           // attempts after the first; negative means none
	WaitMin time.Duration // first backoff
	WaitMax time.Duration // backoff cap
	// MaxRetryAfter caps a server's Retry-After (default MaxRetryAfter). A
	// wait that would end past the request context's deadline is not taken:
	// a Retry-After longer than the time left fails the request at once
	// with a *WaitError; any other wait returns the last response or error.
	MaxRetryAfter time.Duration
	TLS           *tls.Config // nil: system roots
	NoRedirect    bool        // return 3xx responses instead of following them
	Redactor      *Redactor   // secrets to remove from errors; nil: a new one
	// RPS, when more than 0, spaces the client's requests to at most that
	// many per second (x/time/rate), across goroutines.
	RPS float64
	// CheckRetry decides whether a response or error is retried; nil:
	// transport errors, 429 and 5xx except 501 (go-retryablehttp's policy).
	CheckRetry func(ctx context.Context, resp *http.Response, err error) (bool, error)
	// RetryAfter reads how long the server asked to wait; nil: the
	// Retry-After header. Datadog's X-RateLimit-Reset is read this way.
	RetryAfter func(resp *http.Response, now time.Time) (time.Duration, bool)
	// Log receives one line per retry or pause (already redacted); nil discards.
	Log func(msg string)
	// Transport overrides the transport (tests); nil builds one.
	Transport http.RoundTripper
}

// MaxRetryAfter is the longest pmguard waits because a server said so.
const MaxRetryAfter = 60 * time.Second

// maxRedirects bounds a redirect chain, as browsers and curl do.
const maxRedirects = 10

// Client is the outbound HTTP client every verb uses: one retry policy, one
// rate limit, one shared pause per host after a 429, and credentials that
// never follow a redirect to another origin.
type Client struct {
	hc       *http.Client
	o        Options
	ua       string
	redactor *Redactor
	limiter  *rate.Limiter // nil: no rate limit

	mu     sync.Mutex
	pauses map[string]time.Time // host -> no request before
	paused atomic.Int64
}

// New builds a Client.
func New(o Options) *Client {
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	if o.WaitMin == 0 {
		o.WaitMin = 500 * time.Millisecond
	}
	if o.WaitMax == 0 {
		o.WaitMax = 30 * time.Second
	}
	if o.MaxRetryAfter == 0 {
		o.MaxRetryAfter = MaxRetryAfter
	}
	if o.Retries == 0 {
		o.Retries = 3
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.Redactor == nil {
		o.Redactor = NewRedactor()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.CheckRetry == nil {
		o.CheckRetry = retryablehttp.DefaultRetryPolicy
	}
	if o.RetryAfter == nil {
		o.RetryAfter = func(resp *http.Response, now time.Time) (time.Duration, bool) { return RetryAfter(resp.Header, now) }
	}
	tr := o.Transport
	if tr == nil {
		tr = NewTransport(o.TLS)
	}
	c := &Client{o: o, ua: "pmguard/" + o.Version, redactor: o.Redactor, pauses: map[string]time.Time{}}
	c.hc = &http.Client{Transport: tr, Timeout: o.Timeout, CheckRedirect: c.checkRedirect}
	if o.RPS > 0 {
		c.limiter = rate.NewLimiter(rate.Limit(o.RPS), 1)
	}
	return c
}

func (c *Client) checkRedirect(req *http.Request, via []*http.Request) error {
	if c.o.NoRedirect {
		return http.ErrUseLastResponse
	}
	return c.redactor.CheckRedirect(req, via)
}

// CheckRedirect is pmguard's redirect rule, for an http.Client's
// CheckRedirect: it follows at most maxRedirects redirects and, when one
// leads to another origin (scheme, host or port), drops every header but a
// few harmless ones: a credential may travel in any header (Circle-Token,
// DD-API-KEY, a custom X-Api-Key: ${VAR}), and net/http itself strips only
// Authorization, Cookie and WWW-Authenticate. A 307 or 308 keeps the method
// and re-sends the body, where a credential may be too (Slack's API takes
// its token as a form field): to another origin, that redirect is refused.
// So is one to another origin whose URL holds a secret r knows: a server
// may copy a query's token or a header's value into the Location it sends.
// A nil r knows none.
func (r *Redactor) CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if !SameOrigin(req.URL, via[0].URL) {
		from, to := RedactURL(via[0].URL.Scheme+"://"+via[0].URL.Host), RedactURL(req.URL.Scheme+"://"+req.URL.Host)
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			return &RefusedRedirect{From: from, To: to, Why: "it would re-send the request body, which may hold a credential"}
		}
		if r.holdsSecret(req.URL) && !isUpgrade(via[0].URL, req.URL) {
			return &RefusedRedirect{From: from, To: to, Why: "the new URL holds a value this run keeps secret (a query parameter that is not secret can be named in show_query)"}
		}
		for k := range req.Header {
			if !safeHeaders[http.CanonicalHeaderKey(k)] {
				req.Header.Del(k)
			}
		}
	}
	return nil
}

// RefusedRedirect is a redirect to another origin that pmguard does not
// follow. The server gives the same answer to every attempt, so it is
// never retried.
type RefusedRedirect struct {
	From, To string // the origins, redacted
	Why      string
}

func (e *RefusedRedirect) Error() string {
	return fmt.Sprintf("refused a redirect from %s to another origin (%s): %s", e.From, e.To, e.Why)
}

// safeHeaders may follow a redirect to another origin.
var safeHeaders = map[string]bool{
	"Accept": true, "Accept-Encoding": true, "Accept-Language": true,
	"User-Agent": true, "Content-Type": true, "Content-Length": true,
}

// SameOrigin reports whether a and b have the same scheme, host and port.
func SameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

// isUpgrade reports whether b is a, moved from http to https on the same
// host and the default ports: the redirect most servers send to plain
// http, which takes what the URL holds to no one new, only encrypted.
func isUpgrade(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, "http") && strings.EqualFold(b.Scheme, "https") &&
		strings.EqualFold(a.Hostname(), b.Hostname()) && port(a) == "80" && port(b) == "443"
}

func port(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
		return "443"
	case "http":
		return "80"
	}
	return ""
}

// Paused is how many times a 429 paused the client's requests to a host.
func (c *Client) Paused() int64 { return c.paused.Load() }

// StandardClient is an *http.Client that sends through c (for libraries
// such as slack-go that take one).
func (c *Client) StandardClient() *http.Client {
	return &http.Client{Transport: roundTripper{c}}
}

type roundTripper struct{ c *Client }

// RoundTrip sends req through c. A library reads a final answer's
// Retry-After itself, most as whole seconds only (slack-go fails on an
// HTTP date, a fraction or a word as if the request had failed): it sees
// the wait as c read it, in whole seconds, or no Retry-After when c could
// not read one either.
func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := rt.c.Do(req)
	if err != nil || resp.Header.Get("Retry-After") == "" {
		return resp, err
	}
	if d, ok := rt.c.o.RetryAfter(resp, time.Now()); ok {
		resp.Header.Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	} else {
		resp.Header.Del("Retry-After")
	}
	return resp, nil
}

// NewTransport returns an HTTP transport with pmguard's connection limits.
func NewTransport(tlsConf *tls.Config) *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          200,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       tlsConf,
	}
}

// Redactor returns the client's redactor.
func (c *Client) Redactor() *Redactor { return c.redactor }

// UserAgent is the User-Agent the client sends.
func (c *Client) UserAgent() string { return c.ua }

// Do sends req with the client's retry policy. On a final 429 or 5xx it
// returns that response (the caller decides); on a transport failure it
// returns a redacted error saying how many attempts were made. No wait (a
// backoff, a Retry-After, a shared pause, the rate limit) runs past the
// request context's deadline.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.ua)
	}
	rreq, err := retryablehttp.FromRequest(req)
	if err != nil {
		return nil, c.redactor.Error(err)
	}
	resp, err := c.retrier(req).Do(rreq)
	if err != nil {
		return nil, c.redactor.Error(fmt.Errorf("%s %s: %w", req.Method, c.redactor.URL(req.URL.String()), err))
	}
	return resp, nil
}

type unservedKey struct{}

// OnlyUnservedRetries marks requests made with ctx to be retried only when
// the server cannot have acted on them (a 429, a connection never made:
// see unserved). A write that is
// not idempotent (a pipeline trigger) must not be sent twice after a 5xx
// or a timeout, which may come after the work was done: the caller looks
// for what the first attempt did instead.
func OnlyUnservedRetries(ctx context.Context) context.Context {
	return context.WithValue(ctx, unservedKey{}, true)
}

func onlyUnserved(ctx context.Context) bool {
	v, _ := ctx.Value(unservedKey{}).(bool)
	return v
}

// unserved reports whether an attempt is known not to have reached the
// server's handler: a 429, or a connection that was never made (refused,
// no route, a name that does not resolve), so nothing of the request was
// sent.
func unserved(resp *http.Response, err error) bool {
	if resp != nil {
		return resp.StatusCode == http.StatusTooManyRequests
	}
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) && op.Op == "dial" || errors.As(err, &dns)
}

type recheckKey struct{}

// RecheckBeforeRetry marks requests made with ctx as writes that must not
// be carried out twice (a chat message, a scheduled message): before one
// is sent again after an attempt the server may have acted on (a 5xx, a
// timeout, a connection lost once the request was sent), done is asked,
// after the backoff and within ctx, whether that attempt's work is there.
// When it is, the request is not sent again and Do returns an *AlreadyDone;
// when done cannot tell, it is not sent again either and Do returns an
// *Unconfirmed. done's own requests are not rechecked.
func RecheckBeforeRetry(ctx context.Context, done func(context.Context) (bool, error)) context.Context {
	return context.WithValue(ctx, recheckKey{}, done)
}

func recheckOf(ctx context.Context) func(context.Context) (bool, error) {
	f, _ := ctx.Value(recheckKey{}).(func(context.Context) (bool, error))
	return f
}

// mayHaveActed reports whether a failed attempt may still have been
// carried out: a 5xx, or a transport failure after the connection was made.
// Another answer a retry policy retries (a 429, Slack's "ok": false
// service_unavailable) says nothing was done.
func mayHaveActed(resp *http.Response, err error) bool {
	if resp != nil {
		return resp.StatusCode >= 500
	}
	return !unserved(nil, err)
}

// AlreadyDone is a write that failed (Last) and was not sent again because
// the server had carried it out after all.
type AlreadyDone struct {
	Last     string // the last attempt's failure: "HTTP 500", a transport error
	Attempts int
}

func (e *AlreadyDone) Error() string {
	return fmt.Sprintf("%s, but the server had carried out the request: not sent again, after %d attempt(s)", e.Last, e.Attempts)
}

// Unconfirmed is a write that failed (Last) in a way that may come after
// the work was done, and whether it was could not be checked (Err): it was
// not sent again, so that it is never carried out twice.
type Unconfirmed struct {
	Last     string
	Attempts int
	Err      error
}

func (e *Unconfirmed) Error() string {
	return fmt.Sprintf("%s, which may come after the request was carried out, and checking whether it was failed (%v): not sent again, after %d attempt(s)", e.Last, e.Err, e.Attempts)
}

func (e *Unconfirmed) Unwrap() error { return e.Err }

// attempt is the state of one Do call, so concurrent calls share the client
// but not their attempt counts.
type attempt struct {
	tries int
	wait  time.Duration // the wait CheckRetry chose for the next attempt
	why   string        // why the retries stopped early
	acted string        // the last failure, when it may have been carried out
}

// retrier builds the go-retryablehttp client for one request; its hooks
// close over that request's context and attempt state.
func (c *Client) retrier(req *http.Request) *retryablehttp.Client {
	ctx := req.Context()
	st := &attempt{}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = c.hc
	rc.Logger = nil
	rc.RetryMax = c.o.Retries
	rc.RetryWaitMin, rc.RetryWaitMax = c.o.WaitMin, c.o.WaitMax
	rc.RequestLogHook = func(_ retryablehttp.Logger, r *http.Request, n int) {
		st.tries = n + 1
		if n > 0 {
			c.log(fmt.Sprintf("retrying %s %s (retry %d of %d)", r.Method, c.redactor.URL(r.URL.String()), n, c.o.Retries))
		}
		// Errors surface from the request itself once ctx has ended.
		_ = c.waitTurn(ctx, r.URL.Host)
	}
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		var refused *RefusedRedirect
		if errors.As(err, &refused) {
			return false, nil
		}
		retry, perr := c.o.CheckRetry(ctx, resp, err)
		if retry && onlyUnserved(ctx) && !unserved(resp, err) {
			return false, perr
		}
		if !retry || perr != nil || st.tries > c.o.Retries {
			return retry, perr
		}
		wait, asked, full := c.backoff(st.tries-1, resp)
		if dl, ok := ctx.Deadline(); ok {
			left := time.Until(dl)
			if asked && full > left {
				// The server said not before then: an attempt before the
				// deadline would be refused again, and waiting past it is
				// not allowed. The request fails now, saying so.
				return false, &WaitError{Status: resp.StatusCode, Asked: full, Left: max(left, 0), Attempts: st.tries}
			}
			if wait > left {
				st.why = fmt.Sprintf("the next attempt (in %s) would start past the deadline", wait.Round(time.Millisecond))
				return false, nil
			}
		}
		if resp != nil && resp.StatusCode == http.StatusTooManyRequests {
			c.pause(resp.Request.URL.Host, wait)
		}
		st.wait, st.acted = wait, ""
		if mayHaveActed(resp, err) {
			st.acted = failure(resp, err)
		}
		return true, nil
	}
	rc.Backoff = func(_, _ time.Duration, _ int, _ *http.Response) time.Duration { return st.wait }
	if done := recheckOf(ctx); done != nil {
		rc.PrepareRetry = func(r *http.Request) error {
			if st.acted == "" {
				return nil
			}
			found, err := done(context.WithValue(ctx, recheckKey{}, (func(context.Context) (bool, error))(nil)))
			switch {
			case err != nil:
				return &Unconfirmed{Last: st.acted, Attempts: st.tries, Err: c.redactor.Error(err)}
			case found:
				c.log(fmt.Sprintf("%s %s: the server had carried out the request that failed (%s): not sent again", r.Method, c.redactor.URL(r.URL.String()), st.acted))
				return &AlreadyDone{Last: st.acted, Attempts: st.tries}
			}
			return nil
		}
	}
	// Hand the last response back so callers can read API error bodies.
	rc.ErrorHandler = func(resp *http.Response, err error, _ int) (*http.Response, error) {
		if resp != nil && err == nil {
			return resp, nil
		}
		if resp != nil {
			resp.Body.Close()
		}
		var we *WaitError
		var ad *AlreadyDone
		var un *Unconfirmed
		if errors.As(err, &we) || errors.As(err, &ad) || errors.As(err, &un) {
			return nil, err
		}
		if err == nil {
			err = errors.New("no response")
		}
		// net/http puts the URL in its errors with only the password masked;
		// a token in the query or a user name would still show. Redact it
		// before wrapping, since wrapping fixes the message.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			uerr.URL = c.redactor.URL(uerr.URL)
		}
		if st.why != "" {
			return nil, fmt.Errorf("after %d attempt(s), stopped because %s: %w", st.tries, st.why, err)
		}
		return nil, fmt.Errorf("after %d attempt(s): %w", st.tries, err)
	}
	return rc
}

// failure names a failed attempt for a message: its status, or its
// transport error with the URL redacted.
func failure(resp *http.Response, err error) string {
	if resp != nil {
		return "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err.Error()
	}
	return err.Error()
}

// backoff is the wait before retry number n+1: the server's Retry-After on
// 429 and 503 (capped at MaxRetryAfter; asked says the server set it, full
// is what it asked for), else exponential with full jitter.
func (c *Client) backoff(n int, resp *http.Response) (wait time.Duration, asked bool, full time.Duration) {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := c.o.RetryAfter(resp, time.Now()); ok {
			return min(d, c.o.MaxRetryAfter), true, d
		}
	}
	return Backoff(c.o.WaitMin, c.o.WaitMax, n, nil), false, 0
}

// WaitError is a server's request to wait (Retry-After on a 429 or a 503)
// that would end past the request context's deadline. It is not waited
// for: the request fails at once with this error, which says so.
type WaitError struct {
	Status   int           // 429 or 503
	Asked    time.Duration // the wait the server asked for
	Left     time.Duration // the time left before the deadline then
	Attempts int           // attempts made
}

func (e *WaitError) Error() string {
	what := "rate limited"
	if e.Status == http.StatusServiceUnavailable {
		what = "unavailable"
	}
	return fmt.Sprintf("HTTP %d (%s): the server asked to wait %s before another attempt, longer than the %s left before the deadline: not waited for, after %d attempt(s)",
		e.Status, what, WaitText(e.Asked), Round(e.Left), e.Attempts)
}

// WaitText is a wait a server asked for, for a message: rounded, and
// "more than 168h" for one MaxAsked stands for.
func WaitText(d time.Duration) string {
	if d >= MaxAsked {
		return "more than " + MaxAsked.String()
	}
	return Round(d).String()
}

// Round rounds a wait for a message: to the second from a second up, else
// to the millisecond.
func Round(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(time.Second)
	}
	return d.Round(time.Millisecond)
}

// pause holds every request to host for d: after a 429, concurrent workers
// wait together instead of each hitting the limit again.
func (c *Client) pause(host string, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	until := time.Now().Add(d)
	if until.After(c.pauses[host]) {
		c.pauses[host] = until
		c.paused.Add(1)
		c.log(fmt.Sprintf("rate limited by %s: pausing its requests for %s", host, d.Round(time.Millisecond)))
	}
}

// waitTurn waits out host's pause and the rate limit, or until ctx ends.
func (c *Client) waitTurn(ctx context.Context, host string) error {
	c.mu.Lock()
	until := c.pauses[host]
	c.mu.Unlock()
	if d := time.Until(until); d > 0 {
		if err := clock.Sleep(ctx, d); err != nil {
			return err
		}
	}
	if c.limiter != nil {
		return c.limiter.Wait(ctx)
	}
	return nil
}

func (c *Client) log(msg string) {
	if c.o.Log != nil {
		c.o.Log(c.redactor.Redact(msg))
	}
}

// Get is a GET with context.
func (c *Client) Get(ctx context.Context, url string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, c.redactor.Error(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return c.Do(req)
}

// Backoff waits Retry-After on 429 and 503 (capped at max), otherwise an
// exponential delay with full jitter between min and min*2^attempt (capped).
// Clients call it with no response for the jittered part and cap a
// server's Retry-After with MaxRetryAfter instead.
func Backoff(min, max time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := RetryAfter(resp.Header, time.Now()); ok {
			return min64(d, max)
		}
	}
	ceil := min
	for i := 0; i < attempt && ceil < max; i++ {
		ceil *= 2
	}
	ceil = min64(ceil, max)
	if ceil <= min {
		return min
	}
	return min + rand.N(ceil-min)
}

func min64(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}

// RetryAfter parses a Retry-After header (seconds or an HTTP date).
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		if s >= MaxAsked.Seconds() {
			return MaxAsked, true
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(t.Sub(now), 0), MaxAsked), true
	}
	return 0, false
}

// MaxAsked is the longest wait a Retry-After is read as. Anything longer
// is as good as "not within this run"; reading it so keeps the arithmetic
// in range (seconds past time.Duration's would turn negative) and the
// message readable.
const MaxAsked = 7 * 24 * time.Hour

// ReadLimited reads at most limit bytes of r. It reports whether the body was
// longer, so a huge body never has to fit in memory.
func ReadLimited(r io.Reader, limit int64) ([]byte, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if int64(len(b)) > limit {
		return b[:limit], true, err
	}
	return b, false, err
}

// TLSConfig builds a TLS configuration from a CA file, a client key pair and
// the insecure switch. Errors name the file but never its contents.
func TLSConfig(caFile, certFile, keyFile string, insecure bool) (*tls.Config, error) {
	if caFile == "" && certFile == "" && keyFile == "" && !insecure {
		return nil, nil
	}
	conf := &tls.Config{InsecureSkipVerify: insecure} //nolint:gosec // the user asked for it
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		conf.RootCAs = pool
	}
	if certFile != "" || keyFile != "" {
		if certFile == "" || keyFile == "" {
			return nil, errors.New("a client certificate needs both the certificate and the key file")
		}
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %v", err)
		}
		conf.Certificates = []tls.Certificate{pair}
	}
	return conf, nil
}

// IsToken reports whether s is an HTTP token (RFC 9110), as header names
// and methods must be.
func IsToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r >= 127 || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			return false
		}
	}
	return true
}

// Redactor removes secret values from text. It is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	shown   []string // query parameters whose values output may show
}

// NewRedactor returns a Redactor that knows the given secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add registers secrets; values shorter than 4 bytes are ignored, since
// replacing them would mangle ordinary text without protecting anything.
// Each is also registered as the text that quotes it escaped: percent-
// encoded in a URL's path or query (a redirect's Location, a server's
// echo of its request), in HTML (an error page) and as a JSON string (a
// server's JSON echo).
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		for _, f := range escapedForms(s) {
			if slices.Contains(r.secrets, f) {
				continue
			}
			// Longest first: a secret that holds another is replaced whole,
			// whatever order they were registered in.
			i, _ := slices.BinarySearchFunc(r.secrets, f, func(a, b string) int { return len(b) - len(a) })
			r.secrets = slices.Insert(r.secrets, i, f)
		}
	}
}

// escapedForms is s and the ways text quotes it escaped.
func escapedForms(s string) []string {
	forms := []string{s, url.PathEscape(s), url.QueryEscape(s), html.EscapeString(s)}
	for _, html := range []bool{true, false} {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(html)
		if enc.Encode(s) == nil {
			q := strings.TrimSuffix(b.String(), "\n")
			forms = append(forms, q[1:len(q)-1])
		}
	}
	return forms
}

// ShowQuery lets output show the values of the named query parameters
// (PMGUARD_SHOW_QUERY): a page number or a region helps whoever reads a
// failure, and the user is the one who knows which of their parameters are
// not secret. Every other query value stays hidden.
func (r *Redactor) ShowQuery(names ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	r.shown = append(r.shown, names...)
	r.mu.Unlock()
}

func (r *Redactor) isShown(name string) bool {
	if r == nil {
		return false
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Contains(r.shown, name)
}

// AddURL registers the secrets of u: its credentials and the values of every
// query parameter that is not shown.
func (r *Redactor) AddURL(u *url.URL) {
	if r == nil || u == nil {
		return
	}
	r.Add(urlSecrets(u, r.isShown)...)
}

// URL is RedactURL, except that the values of the parameters named by
// ShowQuery stay visible unless they hold a known secret; a known secret
// anywhere else in the URL (its path) is removed too. Every message that
// names a request's URL or path, absolute or relative, goes through it.
func (r *Redactor) URL(raw string) string { return r.Redact(redactURL(raw, r.isShown)) }

// holdsSecret reports whether u, as written or decoded (as a path or as a
// query), holds a known secret.
func (r *Redactor) holdsSecret(u *url.URL) bool {
	raw := u.String()
	forms := []string{raw}
	if dec, err := url.PathUnescape(raw); err == nil {
		forms = append(forms, dec)
	}
	if dec, err := url.QueryUnescape(raw); err == nil {
		forms = append(forms, dec)
	}
	for _, f := range forms {
		if r.Redact(f) != f {
			return true
		}
	}
	return false
}

// Redact replaces every known secret in s with [REDACTED].
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec, "[REDACTED]")
	}
	return s
}

// MaxQuote bounds, in characters, what a message quotes of a server's
// answer (an API's error message, a page that is not the API's), so that
// stderr and the event log stay readable whatever a server sends.
const MaxQuote = 300

// Quote is a server's words as a message quotes them: secrets redacted
// first (so that a cut never leaves part of one), runs of white space made
// one space, and cut at MaxQuote characters, saying how much was cut.
func (r *Redactor) Quote(s string) string {
	s = strings.Join(strings.Fields(r.Redact(s)), " ")
	runes := 0
	for i := range s {
		if runes == MaxQuote {
			return fmt.Sprintf("%s… [%d more bytes]", s[:i], len(s)-i)
		}
		runes++
	}
	return s
}

// Error returns err with every secret removed from its message, and the
// URL of every *url.Error in its chain redacted (net/http's, such as the
// one an http.Client wraps a transport's error in, masks only a password);
// errors.Is and errors.As still see the original chain.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for e := err; e != nil; {
		var ue *url.Error
		if !errors.As(e, &ue) {
			break
		}
		msg = strings.ReplaceAll(msg, ue.URL, r.URL(ue.URL))
		e = ue.Err
	}
	msg = r.Redact(msg)
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// RedactURL hides a URL's user info and every query value, where secrets
// live (?code=, ?sig=, ?pwd= ... no list of names can be complete); the path
// and the parameter names stay, so the URL is still recognisable. A URL that does not parse loses its user info and its whole
// query, since which part is secret cannot be told.
func RedactURL(raw string) string { return redactURL(raw, func(string) bool { return false }) }

func redactURL(raw string, shown func(name string) bool) string {
	u, err := url.Parse(raw)
	if err != nil {
		return redactUnparsed(raw)
	}
	if u.User != nil {
		// The user name alone may be a token (https://TOKEN@host).
		u.User = url.User("REDACTED")
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			if !shown(k) {
				q.Set(k, "REDACTED")
			}
		}
		u.RawQuery = q.Encode()
	}
	return u.String()
}

func redactUnparsed(raw string) string {
	rest, scheme := raw, ""
	if i := strings.Index(raw, "://"); i >= 0 {
		scheme, rest = raw[:i+3], raw[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		rest = "REDACTED" + rest[at:]
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		rest = rest[:q] + "?REDACTED"
	}
	return scheme + rest
}

// URLSecrets returns the values RedactURL hides in u (password, a user name
// used as a token, query values), so a Redactor can remove them from any
// text that quotes the URL.
// The values of the parameters named in shown are not secrets.
func URLSecrets(u *url.URL, shown ...string) []string {
	return urlSecrets(u, func(k string) bool { return slices.Contains(shown, k) })
}

// Each secret is given as decoded and as written in the URL (percent-
// encoded), since a server may echo either; user info also as the Basic
// authorization net/http sends for it. A query pair that does not
// parse (a bad escape, no name) is a secret as written: it is sent as is.
func urlSecrets(u *url.URL, shown func(name string) bool) []string {
	var out []string
	add := func(decoded, escaped string) {
		out = append(out, decoded)
		if escaped != decoded {
			out = append(out, escaped)
		}
	}
	if u.User != nil {
		pw, ok := u.User.Password()
		if ok {
			_, esc, _ := strings.Cut(u.User.String(), ":")
			add(pw, esc)
		} else {
			add(u.User.Username(), u.User.String())
		}
		// net/http sends user info as Basic authorization: a server that
		// echoes its request headers echoes this form.
		out = append(out, base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw)))
	}
	for _, pair := range strings.FieldsFunc(u.RawQuery, func(r rune) bool { return r == '&' || r == ';' }) {
		rawK, rawV, _ := strings.Cut(pair, "=")
		k, kerr := url.QueryUnescape(rawK)
		v, verr := url.QueryUnescape(rawV)
		switch {
		case kerr != nil || verr != nil:
			add(pair, pair)
		case !shown(k):
			add(v, rawV)
		}
	}
	return out
}
