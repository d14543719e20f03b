package health

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/probe"
)

// Attempt is the outcome of one request, with its figures (in the manner of
// blackbox_exporter's probes) as well as pass or fail.
type Attempt struct {
	Time       time.Time     `json:"time"`
	Number     int           `json:"attempt"`
	Status     int           `json:"status,omitempty"`
	Latency    time.Duration `json:"-"`
	LatencyMS  float64       `json:"latency_ms"`
	DNSMS      float64       `json:"dns_ms,omitempty"`
	ConnectMS  float64       `json:"connect_ms,omitempty"`
	TLSMS      float64       `json:"tls_ms,omitempty"`
	TTFBMS     float64       `json:"ttfb_ms,omitempty"`
	TransferMS float64       `json:"transfer_ms,omitempty"`
	BodyBytes  int64         `json:"body_bytes,omitempty"`
	Proto      string        `json:"http_version,omitempty"`
	CertExpiry *time.Time    `json:"cert_expiry,omitempty"`
	ErrorKind  probe.Kind    `json:"error_kind,omitempty"`
	Pass       bool          `json:"pass"`
	Reason     string        `json:"reason,omitempty"`
	// RetryAfter is what a 429 or 503 asked for; the next attempt waits at
	// least that long after the answer arrived (capped).
	RetryAfter time.Duration `json:"-"`
	answered   time.Time
}

// attempt sends attempt number n to ep and judges the answer.
func (o *Options) attempt(ctx context.Context, ep Endpoint, n int) Attempt {
	r := o.prober.Probe(ctx, ep.URL.String())
	a := Attempt{
		Time: r.Start, Number: n, Status: r.Status, Latency: r.Total, LatencyMS: ms(r.Total),
		DNSMS: ms(r.DNS), ConnectMS: ms(r.Connect), TLSMS: ms(r.TLS), TTFBMS: ms(r.TTFB), TransferMS: ms(r.Transfer),
		BodyBytes: r.BodyBytes, Proto: r.Proto, ErrorKind: r.Kind, RetryAfter: r.RetryAfter, answered: r.Answered,
	}
	if !r.CertExpiry.IsZero() {
		a.CertExpiry = &r.CertExpiry
	}
	a.Reason = o.d.Redactor.Redact(o.judge(ep, r))
	a.Pass = a.Reason == ""
	return a
}

// judge says why a response fails its endpoint's checks, or "" when it passes.
func (o *Options) judge(ep Endpoint, r probe.Result) string {
	switch {
	case r.Err != nil:
		return r.Reason
	case !ep.Expect.Contains(r.Status):
		reason := fmt.Sprintf("status %d, want %s", r.Status, ep.Expect)
		if r.RetryAfter > 0 {
			reason += fmt.Sprintf(" (Retry-After %s)", httpx.WaitText(r.RetryAfter))
		}
		return reason
	case o.bodyRE != nil && !o.bodyRE.Match(r.Body):
		return fmt.Sprintf("body does not match %s", quoteShort(o.bodyRE.String()))
	case len(o.jsonChecks) > 0:
		// What the server wrote is redacted before it is cut: a secret cut
		// in two would no longer be recognised.
		return checkJSON(r.Body, r.Truncated, o.jsonChecks, func(s string) string { return quoteShort(o.d.Redactor.Redact(s)) })
	}
	return ""
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// checkJSON judges body by checks; quote quotes what the body holds.
func checkJSON(body []byte, tooBig bool, checks []JSONCheck, quote func(string) string) string {
	if tooBig {
		return fmt.Sprintf("body larger than %d MiB; JSON checks need the whole body", probe.MaxBody>>20)
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return fmt.Sprintf("body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "body is not valid JSON: more follows the first JSON value"
	}
	if k := duplicateKey(body); k != "" {
		return fmt.Sprintf("JSON has the key %s twice in one object: which value counts is not defined (RFC 8259), so the check cannot pass", quote(k))
	}
	for _, c := range checks {
		got, ok := lookupJSON(doc, c.Path)
		if !ok {
			return fmt.Sprintf("JSON has no %s", c.Raw)
		}
		if got != c.Value {
			return fmt.Sprintf("JSON %s = %s, want %s", c.Raw, quote(got), quoteShort(c.Value))
		}
	}
	return ""
}

// duplicateKey is the first key found twice in one object of the JSON
// document body (already known to be valid), or "". encoding/json keeps the
// last one, so {"status":"down","status":"ok"} would read as ok.
func duplicateKey(body []byte) string {
	dec := json.NewDecoder(bytes.NewReader(body))
	// One entry per open object or array: the keys seen (nil for an
	// array) and whether the next string token is a key.
	type level struct {
		keys    map[string]bool
		wantKey bool
	}
	var stack []*level
	for {
		tok, err := dec.Token()
		if err != nil {
			return ""
		}
		var top *level
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.wantKey {
			if k, ok := tok.(string); ok {
				if top.keys[k] {
					return k
				}
				top.keys[k], top.wantKey = true, false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &level{keys: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			stack = append(stack, &level{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		// A value ended: the parent object's next token is a key.
		if len(stack) > 0 && stack[len(stack)-1].keys != nil {
			stack[len(stack)-1].wantKey = true
		}
	}
}

func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return fmt.Sprintf("%q", s)
}
