package canary

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pmguard/pmguard/internal/config"
)

// ProbeOptions configure the probe source.
type ProbeOptions struct {
	Client      *http.Client // no retries: a retried request would hide an error
	UserAgent   string
	URL         string
	BaselineURL string // "" for none
	Method      string
	Header      http.Header
	Expect      config.StatusSet
	Rate        float64 // requests per second, per URL
	Concurrency int     // requests in flight at most, per URL
	Timeout     time.Duration
	// Tick is how often Next hands over the finished requests; 0 is 100ms.
	Tick time.Duration
}

// probe is an open-loop load generator: requests are scheduled at fixed
// times whatever the responses, and each request's latency runs from its
// scheduled time. When the canary stalls and every slot is busy, the
// requests queued behind keep their schedule, so the stall shows in their
// latency instead of silently lowering the request rate (the coordinated
// omission of closed-loop tools, which wait for a response before sending).
type probe struct {
	o       ProbeOptions
	canary  *track
	base    *track
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
}

// NewProbe returns the probe source.
func NewProbe(o ProbeOptions) Source {
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.Method == "" {
		o.Method = http.MethodGet
	}
	p := &probe{o: o, canary: newTrack(o.URL)}
	if o.BaselineURL != "" {
		p.base = newTrack(o.BaselineURL)
	}
	return p
}

// track is one URL under probe and its finished requests, held until every
// earlier-scheduled request has finished, so the judge sees requests in
// schedule order whatever order they finish in.
type track struct {
	url  string
	seq  atomic.Int64 // the next request to send
	mu   sync.Mutex
	done map[int64]Sample
	next int64 // the next sequence number to hand over
}

func newTrack(url string) *track {
	return &track{url: url, done: map[int64]Sample{}}
}

func (p *probe) Start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(context.WithoutCancel(ctx))
	// One unjudged request per URL first, so the first scheduled requests
	// do not carry connection set-up (DNS, TCP, TLS) in their latency.
	var warm sync.WaitGroup
	for _, t := range []*track{p.canary, p.base} {
		if t != nil {
			warm.Add(1)
			go func() { defer warm.Done(); p.do(ctx, t.url, time.Now()) }()
		}
	}
	warm.Wait()
	start := time.Now()
	for _, t := range []*track{p.canary, p.base} {
		if t == nil {
			continue
		}
		for range p.o.Concurrency {
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.work(ctx, t, start) }()
		}
	}
	p.started = true
	return nil
}

// work sends request after request: each slot takes the next sequence
// number i and sends it at its scheduled time start + i/rate, or at once
// when that time has passed because every slot was busy; the request's
// latency runs from the scheduled time either way. No dispatcher sits
// between the schedule and the slots, so going flat out costs no more per
// request than a closed-loop client.
func (p *probe) work(ctx context.Context, t *track, start time.Time) {
	period := float64(time.Second) / p.o.Rate
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		seq := t.seq.Add(1) - 1
		at := start.Add(time.Duration(float64(seq) * period))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
		}
		s, ok := p.do(ctx, t.url, at)
		if !ok {
			return // shutting down: the request was cut short by us, not the canary
		}
		t.mu.Lock()
		t.done[seq] = s
		t.mu.Unlock()
	}
}

// do sends one request; ok is false when the probe itself is stopping.
func (p *probe) do(ctx context.Context, url string, at time.Time) (Sample, bool) {
	rctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, p.o.Method, url, nil)
	if err != nil {
		return Sample{Err: true, Kind: "bad request"}, true
	}
	for k, v := range p.o.Header {
		req.Header[k] = v
	}
	if req.Header.Get("User-Agent") == "" && p.o.UserAgent != "" {
		req.Header.Set("User-Agent", p.o.UserAgent)
	}
	if h := req.Header.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := p.o.Client.Do(req)
	if err == nil {
		// The body is part of the response: read it (bounded) so its time
		// counts and the connection can be reused.
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
	}
	lat := time.Since(at)
	if ctx.Err() != nil {
		return Sample{}, false
	}
	if err != nil {
		kind, timedOut := classify(err)
		return Sample{Err: true, Kind: kind, Latency: lat, HasLatency: timedOut}, true
	}
	s := Sample{Latency: lat, HasLatency: true}
	if !p.o.Expect.Contains(resp.StatusCode) {
		s.Err, s.Kind = true, fmt.Sprintf("status %d", resp.StatusCode)
	}
	return s, true
}

// classify names a transport failure without its URL (which may carry a
// token) and says whether it was a timeout.
func classify(err error) (string, bool) {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", false
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset", false
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed early", false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "DNS lookup failed", false
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return "TLS certificate not trusted", false
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Op + " error", false
	}
	return "transport error", false
}

func (p *probe) Next(ctx context.Context) (Batch, error) {
	timer := time.NewTimer(p.o.Tick)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		return Batch{}, ctx.Err()
	}
	b := Batch{Canary: Obs{Samples: p.canary.take()}}
	if p.base != nil {
		o := Obs{Samples: p.base.take()}
		b.Baseline = &o
	}
	return b, nil
}

// take returns the finished requests that follow on from the last one taken.
func (t *track) take() []Sample {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := []Sample{}
	for {
		s, ok := t.done[t.next]
		if !ok {
			return out
		}
		delete(t.done, t.next)
		t.next++
		out = append(out, s)
	}
}

func (p *probe) Close() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
}
