package health

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// maxBody bounds what one attempt reads of a body: enough for any health
// document, small enough that a 1 GB body costs nothing.
const maxBody = 1 << 20

// Attempt is the outcome of one request, with its figures (in the manner of
// blackbox_exporter's probes) as well as pass or fail.
type Attempt struct {
	Time      time.Time     `json:"time"`
	Number    int           `json:"attempt"`
	Status    int           `json:"status,omitempty"`
	Latency   time.Duration `json:"-"`
	LatencyMS float64       `json:"latency_ms"`
	ConnectMS float64       `json:"connect_ms,omitempty"`
	TLSMS     float64       `json:"tls_ms,omitempty"`
	TTFBMS    float64       `json:"ttfb_ms,omitempty"`
	BodyBytes int64         `json:"body_bytes,omitempty"`
	Pass      bool          `json:"pass"`
	Reason    string        `json:"reason,omitempty"`
	// RetryAfter is what a 429 or 503 asked for; the next attempt waits at
	// least that long after the answer arrived.
	RetryAfter time.Duration `json:"-"`
	answered   time.Time
}

// prober sends one attempt to one endpoint.
type prober struct {
	client    *http.Client
	plan      *Plan
	userAgent string
	redact    func(string) string
	now       func() time.Time
}

func (p *prober) probe(ctx context.Context, ep Endpoint, number int) Attempt {
	a := Attempt{Time: p.now(), Number: number}
	runCtx := ctx
	ctx, cancel := context.WithTimeout(ctx, p.plan.Timeout)
	defer cancel()

	// A dial may finish in the background after the request got another
	// connection, so the phase times are guarded.
	var mu sync.Mutex
	var connStart, connDone, tlsStart, tlsDone, firstByte time.Time
	mark := func(t *time.Time) func() {
		return func() { mu.Lock(); *t = p.now(); mu.Unlock() }
	}
	trace := &httptrace.ClientTrace{
		ConnectStart:         func(string, string) { mark(&connStart)() },
		ConnectDone:          func(string, string, error) { mark(&connDone)() },
		TLSHandshakeStart:    mark(&tlsStart),
		TLSHandshakeDone:     func(tls.ConnectionState, error) { mark(&tlsDone)() },
		GotFirstResponseByte: mark(&firstByte),
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), p.plan.Method, ep.URL.String(), nil)
	if err != nil {
		return p.finish(a, fmt.Sprintf("cannot build request: %v", err))
	}
	req.Header = p.plan.Header.Clone()
	req.Header.Set("User-Agent", p.userAgent)

	resp, err := p.client.Do(req)
	if err != nil {
		a.Latency = p.now().Sub(a.Time)
		return p.finish(a, p.transportReason(runCtx, ctx, err, false))
	}
	defer resp.Body.Close()
	a.answered = p.now()
	a.Status = resp.StatusCode
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		a.RetryAfter, _ = httpx.RetryAfter(resp.Header, p.now())
	}

	needBody := p.plan.BodyRegex != nil || len(p.plan.JSONChecks) > 0
	var body []byte
	var tooBig bool
	if needBody {
		body, tooBig, err = httpx.ReadLimited(resp.Body, maxBody)
		a.BodyBytes = int64(len(body))
	} else {
		// Read a little so small bodies keep the connection reusable; never more.
		a.BodyBytes, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	}
	a.Latency = p.now().Sub(a.Time)
	mu.Lock()
	if !connStart.IsZero() && !connDone.IsZero() {
		a.ConnectMS = ms(connDone.Sub(connStart))
	}
	if !tlsStart.IsZero() && !tlsDone.IsZero() {
		a.TLSMS = ms(tlsDone.Sub(tlsStart))
	}
	if !firstByte.IsZero() {
		a.TTFBMS = ms(firstByte.Sub(a.Time))
	}
	mu.Unlock()
	if err != nil {
		return p.finish(a, p.transportReason(runCtx, ctx, err, true))
	}

	switch {
	case !ep.Expect.Contains(resp.StatusCode):
		reason := fmt.Sprintf("status %d, want %s", resp.StatusCode, ep.Expect)
		if a.RetryAfter > 0 {
			reason += fmt.Sprintf(" (Retry-After %s)", a.RetryAfter.Round(time.Millisecond))
		}
		return p.finish(a, reason)
	case p.plan.BodyRegex != nil && !p.plan.BodyRegex.Match(body):
		return p.finish(a, fmt.Sprintf("body does not match %s", quoteShort(p.plan.BodyRegex.String())))
	case len(p.plan.JSONChecks) > 0:
		if reason := checkJSON(body, tooBig, p.plan.JSONChecks); reason != "" {
			return p.finish(a, reason)
		}
	}
	a.Pass = true
	return p.finish(a, "")
}

func (p *prober) finish(a Attempt, reason string) Attempt {
	a.Reason = p.redact(reason)
	a.LatencyMS = ms(a.Latency)
	return a
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func checkJSON(body []byte, tooBig bool, checks []JSONCheck) string {
	if tooBig {
		return fmt.Sprintf("body larger than %d MiB; JSON checks need the whole body", maxBody>>20)
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Sprintf("body is not valid JSON: %v", err)
	}
	for _, c := range checks {
		got, ok := lookupJSON(doc, c.Path)
		if !ok {
			return fmt.Sprintf("JSON has no %s", c.Raw)
		}
		if got != c.Value {
			return fmt.Sprintf("JSON %s = %s, want %s", c.Raw, quoteShort(got), quoteShort(c.Value))
		}
	}
	return ""
}

func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return fmt.Sprintf("%q", s)
}

// transportReason says in a few words why a request got no usable answer.
// runCtx is the whole run's context, ctx the attempt's: when the run's
// deadline cut the attempt short, the attempt's timeout is not the reason.
func (p *prober) transportReason(runCtx, ctx context.Context, err error, inBody bool) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // the URL is already on the line
	}
	var dnsErr *net.DNSError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var tlsVerify *tls.CertificateVerificationError
	switch {
	case errors.Is(runCtx.Err(), context.DeadlineExceeded):
		if inBody {
			return "deadline reached while reading the body"
		}
		return "deadline reached before a response"
	case errors.Is(runCtx.Err(), context.Canceled):
		return "cancelled"
	case errors.As(err, &dnsErr):
		// Before the timeout case: a lookup that timed out is a DNS problem.
		return fmt.Sprintf("DNS lookup of %s failed: %s", dnsErr.Name, dnsErr.Err)
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		if inBody {
			return fmt.Sprintf("body not complete within %s", p.plan.Timeout)
		}
		return fmt.Sprintf("no response within %s", p.plan.Timeout)
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset by peer"
	case errors.As(err, &unknownCA) || (errors.As(err, &tlsVerify) && errors.As(tlsVerify.Err, &unknownCA)):
		return "TLS: certificate signed by an unknown authority (set ca_file, or insecure for a test server)"
	case errors.As(err, &hostErr):
		return fmt.Sprintf("TLS: %v", hostErr)
	case errors.As(err, &invalid):
		return fmt.Sprintf("TLS: %v", invalid)
	case remoteTLSAlert(err) != "":
		// The server ended the handshake, most often for want of a client
		// certificate.
		return fmt.Sprintf("TLS: the server refused the connection (%s); does it need client_cert and client_key?", remoteTLSAlert(err))
	case strings.Contains(err.Error(), "stopped after 10 redirects"):
		return "redirect loop: stopped after 10 redirects"
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return "connection closed before a complete response"
	}
	return err.Error()
}

// remoteTLSAlert returns the alert a server sent to end a TLS connection
// ("tls: certificate required"), or "". crypto/tls does not export the type.
func remoteTLSAlert(err error) string {
	const mark = "remote error: "
	msg := err.Error()
	if i := strings.Index(msg, mark+"tls: "); i >= 0 {
		return msg[i+len(mark):]
	}
	return ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
