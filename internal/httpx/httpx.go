// Package httpx builds pmguard's one outbound HTTP client on go-retryablehttp:
// per-request timeouts, bounded retries with exponential backoff and full
// jitter, Retry-After honoured on 429 and 503, a pmguard User-Agent, and
// secrets redacted from every error it returns.
package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Options configures a Client. The zero value is usable: 10 s per request,
// 3 retries, 500 ms to 30 s backoff.
type Options struct {
	Version    string        // for the User-Agent: pmguard/<version>
	Timeout    time.Duration // per attempt, including reading the headers
	Retries    int           // attempts after the first; negative means none
	WaitMin    time.Duration // first backoff
	WaitMax    time.Duration // backoff and Retry-After cap
	TLS        *tls.Config   // nil: system roots
	NoRedirect bool          // return 3xx responses instead of following them
	Redactor   *Redactor     // secrets to remove from errors; nil: a new one
	// Log receives one line per retry (already redacted); nil discards.
	Log func(msg string)
	// Transport overrides the transport (tests); nil builds one.
	Transport http.RoundTripper
}

// Client is the outbound HTTP client every verb uses.
type Client struct {
	rc       *retryablehttp.Client
	ua       string
	redactor *Redactor
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
	tr := o.Transport
	if tr == nil {
		tr = NewTransport(o.TLS)
	}
	hc := &http.Client{Transport: tr, Timeout: o.Timeout}
	if o.NoRedirect {
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	rc := retryablehttp.NewClient()
	rc.HTTPClient = hc
	rc.RetryMax = o.Retries
	rc.RetryWaitMin = o.WaitMin
	rc.RetryWaitMax = o.WaitMax
	rc.Backoff = Backoff
	rc.CheckRetry = retryablehttp.DefaultRetryPolicy
	// Hand the last response back so callers can read API error bodies.
	rc.ErrorHandler = func(resp *http.Response, err error, tries int) (*http.Response, error) {
		if resp != nil && err == nil {
			return resp, nil
		}
		if resp != nil {
			resp.Body.Close()
		}
		if err == nil {
			err = errors.New("no response")
		}
		// net/http puts the URL in its errors with only the password masked;
		// a token in the query or a user name would still show. Redact it
		// before wrapping, since wrapping fixes the message.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			uerr.URL = RedactURL(uerr.URL)
		}
		return nil, fmt.Errorf("after %d attempt(s): %w", tries, err)
	}
	rc.Logger = nil
	if o.Log != nil {
		logf := o.Log
		red := o.Redactor
		rc.RequestLogHook = func(_ retryablehttp.Logger, r *http.Request, attempt int) {
			if attempt > 0 {
				logf(red.Redact(fmt.Sprintf("retrying %s %s (retry %d of %d)", r.Method, RedactURL(r.URL.String()), attempt, o.Retries)))
			}
		}
	}
	return &Client{rc: rc, ua: "pmguard/" + o.Version, redactor: o.Redactor}
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

// Do sends req with retries. On a final 429 or 5xx it returns that response
// (the caller decides); on a transport failure it returns a redacted error.
func (c *Client) Do(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", c.ua)
	}
	rreq, err := retryablehttp.FromRequest(req)
	if err != nil {
		return nil, c.redactor.Error(err)
	}
	resp, err := c.rc.Do(rreq)
	if err != nil {
		return nil, c.redactor.Error(fmt.Errorf("%s %s: %w", req.Method, RedactURL(req.URL.String()), err))
	}
	return resp, nil
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
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

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
}

// NewRedactor returns a Redactor that knows the given secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add registers secrets; values shorter than 4 bytes are ignored, since
// replacing them would mangle ordinary text without protecting anything.
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if len(s) >= 4 {
			r.secrets = append(r.secrets, s)
		}
	}
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

// Error returns err with every secret removed from its message; errors.Is and
// errors.As still see the original chain.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	msg := r.Redact(err.Error())
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

// RedactURL hides a URL's user info and token-like query values, where
// secrets live. A URL that does not parse loses its user info and its whole
// query, since which part is secret cannot be told.
func RedactURL(raw string) string {
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
			if sensitiveParam(k) {
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
// used as a token, token-like query values), so a Redactor can remove them
// from any text that quotes the URL.
func URLSecrets(u *url.URL) []string {
	var out []string
	if u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw)
		} else {
			out = append(out, u.User.Username())
		}
	}
	for k, vs := range u.Query() {
		if sensitiveParam(k) {
			out = append(out, vs...)
		}
	}
	return out
}

func sensitiveParam(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"token", "key", "secret", "password", "sig", "auth"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
