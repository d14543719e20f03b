package canary

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/probe"
)

// ProbeOptions configure the probe source.
type ProbeOptions struct {
	// Prober sends each request; it must not retry (a retried request
	// would hide an error) nor follow redirects.
	Prober      *probe.Prober
	URL         string
	BaselineURL string // "" for none
	Expect      config.StatusSet
	Rate        float64 // requests per second, per URL
	Concurrency int     // requests in flight at most, per URL
	// Tick is how often Next hands over the finished requests; 0 is 100ms.
	Tick time.Duration
}

// probe is an open-loop load generator: requests are scheduled at fixed
// times whatever the responses, and each request's latency runs from its
// scheduled time. When the canary stalls and every slot is busy, the
// requests queued behind keep their schedule, so the stall shows in their
// latency instead of silently lowering the request rate (the coordinated
// omission of closed-loop tools, which wait for a response before sending).
type probeSource struct {
	o       ProbeOptions
	canary  *track
	base    *track
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started bool
	// stop ends the schedule at max_duration: no request is sent after it,
	// and those in flight are waited for (Finished).
	stop     chan struct{}
	stopOnce sync.Once
}

// NewProbe returns the probe source.
func NewProbe(o ProbeOptions) Source {
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	p := &probeSource{o: o, canary: newTrack(o.URL), stop: make(chan struct{})}
	if o.BaselineURL != "" {
		p.base = newTrack(o.BaselineURL)
	}
	return p
}

// track is one URL under probe and its finished requests, held until every
// earlier-scheduled request has finished, so the judge sees requests in
// schedule order whatever order they finish in.
type track struct {
	url string
	seq atomic.Int64 // the next request to send
	// first is the first scheduled request: 1 when the warm-up failed and
	// is judged as request 0, else 0.
	first int64
	mu    sync.Mutex
	done  map[int64]Sample
	next  int64 // the next sequence number to hand over
}

func newTrack(url string) *track {
	return &track{url: url, done: map[int64]Sample{}}
}

func (p *probeSource) Start(ctx context.Context) error {
	run, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.cancel = cancel
	// One request per URL first, so the first scheduled requests do not
	// carry connection set-up (DNS, TCP, TLS) in their latency. A warm-up
	// that is answered as expected is not judged; one that fails is: set-up
	// does not explain a timeout, a refused connection or a bad status, and
	// a canary that never answers must fail, not look like no traffic. It
	// runs under the analysis's context, which max_duration ends.
	var warm sync.WaitGroup
	for _, t := range []*track{p.canary, p.base} {
		if t != nil {
			warm.Add(1)
			go func() {
				defer warm.Done()
				if s, ok := p.do(ctx, t.url, time.Now()); ok && s.Err {
					t.mu.Lock()
					t.done[0] = s
					t.mu.Unlock()
					t.seq.Store(1)
					t.first = 1
				}
			}()
		}
	}
	warm.Wait()
	ctx = run
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
func (p *probeSource) work(ctx context.Context, t *track, start time.Time) {
	period := float64(time.Second) / p.o.Rate
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		seq := t.seq.Add(1) - 1
		at := start.Add(time.Duration(float64(seq-t.first) * period))
		if d := time.Until(at); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-p.stop:
				return
			case <-ctx.Done():
				return
			}
		}
		select {
		case <-p.stop:
			return // scheduled after max_duration (or never sent before it)
		default:
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
func (p *probeSource) do(ctx context.Context, url string, at time.Time) (Sample, bool) {
	r := p.o.Prober.Probe(ctx, url)
	if ctx.Err() != nil {
		return Sample{}, false // cut short by us, not the canary
	}
	lat := r.End().Sub(at)
	switch {
	case r.Err != nil:
		// Only a timeout's duration says something about the service.
		return Sample{Err: true, Kind: string(r.Kind), Latency: lat, HasLatency: r.Kind == probe.KindTimeout}, true
	case !p.o.Expect.Contains(r.Status):
		return Sample{Err: true, Kind: fmt.Sprintf("status %d", r.Status), Latency: lat, HasLatency: true}, true
	}
	return Sample{Latency: lat, HasLatency: true}, true
}

func (p *probeSource) Next(ctx context.Context) (Batch, error) {
	timer := time.NewTimer(p.o.Tick)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
		return Batch{}, ctx.Err()
	}
	return p.batch((*track).take), nil
}

// Finished ends the schedule at max_duration and hands over every request
// sent before it, waiting for those still in flight: each ends within the
// probe's timeout, answered or timed out, and is judged like any other (a
// canary that answers slowly at the end is not let off). ctx bounds the
// wait; a request it cuts short is not judged.
func (p *probeSource) Finished(ctx context.Context) Batch {
	p.stopOnce.Do(func() { close(p.stop) })
	if p.started {
		done := make(chan struct{})
		go func() { p.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			p.cancel()
			<-done
		}
	}
	return p.batch((*track).takeAll)
}

// batch hands over the requests take gives of each track.
func (p *probeSource) batch(take func(*track) []Sample) Batch {
	b := Batch{Canary: Obs{Samples: take(p.canary)}}
	if p.base != nil {
		o := Obs{Samples: take(p.base)}
		b.Baseline = &o
	}
	return b
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

// takeAll returns every finished request not taken yet, in schedule
// order, once no more can finish: one never sent leaves a gap that take
// would wait at.
func (t *track) takeAll() []Sample {
	out := t.take()
	t.mu.Lock()
	defer t.mu.Unlock()
	seqs := make([]int64, 0, len(t.done))
	for k := range t.done {
		seqs = append(seqs, k)
	}
	slices.Sort(seqs)
	for _, k := range seqs {
		out = append(out, t.done[k])
		delete(t.done, k)
	}
	return out
}

func (p *probeSource) Close() {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
}
