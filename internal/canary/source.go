package canary

import (
	"context"
	"time"
)

// Source delivers what the canary (and optionally the stable baseline) did,
// batch by batch. The probe sends its own requests and reports each one; the
// metric sources read per-interval counts from Prometheus or Datadog.
type Source interface {
	// Start checks that the source can be reached and begins collecting. An
	// error here means the analysis cannot run (exit 3), or that the query
	// itself is wrong (exit 2).
	Start(ctx context.Context) error
	// Next blocks until the next batch is ready. A non-nil error is one
	// failed read of the source; the caller counts consecutive failures.
	Next(ctx context.Context) (Batch, error)
	// Close stops the source and releases its resources.
	Close()
}

// Batch is what happened since the previous batch.
type Batch struct {
	Canary   Obs
	Baseline *Obs // nil without a baseline
}

// Obs is the traffic of one track in one batch. A probe fills Samples (in
// the order the requests were scheduled); a metric source fills Total and
// Errors, and Latency when it has one.
type Obs struct {
	Samples []Sample
	Total   float64
	Errors  float64
	// Latency is the chosen percentile over the batch (metric sources).
	Latency    time.Duration
	HasLatency bool
	// SlowLo and SlowHi bracket the number of requests slower than the
	// latency threshold, from the histogram buckets either side of it
	// (metric sources with buckets; HasSlow says they are set).
	SlowLo, SlowHi float64
	HasSlow        bool
	// Note says why a batch holds no data, e.g. "no series matched".
	Note string
}

// note adds n to the observation's note: one read may have several things
// to say (errors above requests, and no latency).
func (o *Obs) note(n string) {
	if o.Note != "" {
		n = o.Note + "; " + n
	}
	o.Note = n
}

// Sample is one probe request.
type Sample struct {
	// Latency is measured from the time the request was scheduled, not
	// sent, so a stalled server delays every request queued behind it and
	// the delay shows (no coordinated omission).
	Latency time.Duration
	// HasLatency is false for transport failures other than timeouts, whose
	// duration says nothing about the service.
	HasLatency bool
	Err        bool
	// Kind classifies an error for the report: "status 503", "timeout",
	// "connection refused", ...
	Kind string
}

// total returns the number of requests in o.
func (o *Obs) total() float64 {
	if o.Samples != nil {
		return float64(len(o.Samples))
	}
	return o.Total
}

// errors returns the number of failed requests in o.
func (o *Obs) errors() float64 {
	if o.Samples == nil {
		return o.Errors
	}
	n := 0
	for _, s := range o.Samples {
		if s.Err {
			n++
		}
	}
	return float64(n)
}
