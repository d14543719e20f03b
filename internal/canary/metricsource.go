package canary

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/pmguard/pmguard/internal/clock"
	"github.com/pmguard/pmguard/internal/config"

	"github.com/pmguard/pmguard/internal/metricsource"
)

// MetricOptions configure a metric source (Prometheus or Datadog).
type MetricOptions struct {
	Metrics          metricsource.Source
	Name             string // "prometheus at https://..." for messages
	CanarySelector   string
	BaselineSelector string // "" for none
	Quantile         float64
	// Threshold is the latency threshold; with it, a metric system that
	// keeps histograms (metricsource.SlowSource) is asked how many
	// requests were slower, bucket by bucket.
	Threshold time.Duration
	// NeedLatency says a latency threshold or baseline depends on the
	// latency query; without it a failing latency query is only noted.
	NeedLatency bool
	Interval    time.Duration
	// Deadline is when the analysis ends; the last interval is cut short
	// there, so nothing runs past it.
	Deadline time.Time
	Clock    Clock
}

// metricSource reads, once per interval, the requests and errors of the
// interval just ended, and the latency percentile over it.
type metricSource struct {
	o MetricOptions
	// Warn receives a note when a query finds no data.
	warn func(string)
	// noBuckets: the metric system has no histogram buckets to read.
	noBuckets bool
}

// NewMetricSource returns a source reading o.Metrics every o.Interval.
func NewMetricSource(o MetricOptions, warn func(string)) Source {
	if warn == nil {
		warn = func(string) {}
	}
	return &metricSource{o: o, warn: warn}
}

// Start reads one interval to check the server, the credentials and the
// queries before the analysis starts: a query the server rejects as
// malformed is bad input (exit 2, the server's message verbatim), refused
// credentials or an unreachable server mean the analysis cannot run (exit 3).
// No data yet is fine: the canary may be too new to have been scraped.
func (m *metricSource) Start(ctx context.Context) error {
	w := metricsource.Window{Length: m.o.Interval}
	sels := []string{m.o.CanarySelector}
	if m.o.BaselineSelector != "" {
		sels = append(sels, m.o.BaselineSelector)
	}
	for _, sel := range sels {
		_, err := m.o.Metrics.Counts(ctx, sel, w)
		if err == nil && m.o.NeedLatency {
			_, err = m.o.Metrics.Latency(ctx, sel, m.o.Quantile, w)
		}
		switch {
		case err == nil:
		case errors.Is(err, metricsource.ErrNoData):
			m.warn(fmt.Sprintf("no data yet for %s: %v", sel, err))
		case isBadQuery(err):
			return config.Invalidf("%s: %v", m.o.Name, err)
		default:
			return fmt.Errorf("cannot start the analysis: %w", err)
		}
	}
	return nil
}

// isBadQuery: at the start, a query refused as malformed, or giving results
// of the wrong shape, is the settings' fault (exit 2). Mid-run a shape may
// change as the rollout does, so metricsource.Permanent leaves it out.
func isBadQuery(err error) bool {
	var sh *metricsource.ShapeError
	return metricsource.Permanent(err) && !errors.Is(err, metricsource.ErrUnauthorized) || errors.As(err, &sh)
}

func (m *metricSource) Next(ctx context.Context) (Batch, error) {
	wait := m.o.Interval
	if left := m.o.Deadline.Sub(m.o.Clock.Now()); left < wait {
		wait = left
	}
	// Metric systems resolve whole seconds at best (Datadog's windows are
	// whole seconds), so a shortened last interval is too.
	wait = wait.Truncate(time.Second)
	if wait < time.Second {
		wait = time.Second
	}
	if err := m.o.Clock.Sleep(ctx, wait); err != nil {
		return Batch{}, err
	}
	w := metricsource.Window{Length: wait}
	c, err := m.read(ctx, m.o.CanarySelector, w)
	if err != nil {
		return Batch{}, err
	}
	b := Batch{Canary: c}
	if m.o.BaselineSelector != "" {
		bo, err := m.read(ctx, m.o.BaselineSelector, w)
		if err != nil {
			return Batch{}, err
		}
		b.Baseline = &bo
	}
	return b, nil
}

// read returns one track's interval; no data is an empty interval with a
// note, not an error: the judge counts it as no traffic.
func (m *metricSource) read(ctx context.Context, sel string, w metricsource.Window) (Obs, error) {
	c, err := m.o.Metrics.Counts(ctx, sel, w)
	if errors.Is(err, metricsource.ErrNoData) {
		return Obs{Note: err.Error()}, nil
	}
	if err != nil {
		return Obs{}, err
	}
	if bad := notCounts(c); bad != "" {
		// A read like any other that failed: a query giving a ratio, or a
		// counter gone wrong, must not reach the judge as requests.
		return Obs{}, fmt.Errorf("%s: %s for %s, not request counts: error_query and total_query must each give the number of requests in the window", m.o.Name, bad, sel)
	}
	o := Obs{Total: c.Total, Errors: c.Errors}
	if c.Errors > c.Total {
		// The two queries are read at slightly different instants, and
		// increase() extrapolates each: a canary failing every request can
		// show a few more errors than requests.
		o.Errors = c.Total
		o.Note = fmt.Sprintf("%s errors of %s requests for %s: counted as %s of %s", trimFloat(c.Errors), trimFloat(c.Total), sel, trimFloat(c.Total), trimFloat(c.Total))
	}
	if c.Total <= 0 {
		return o, nil
	}
	lat, err := m.o.Metrics.Latency(ctx, sel, m.o.Quantile, w)
	switch {
	case errors.Is(err, metricsource.ErrNoData):
		o.note(err.Error())
	case err != nil && !m.o.NeedLatency:
		o.note("latency not available: " + err.Error())
	case err != nil:
		return Obs{}, err
	default:
		o.Latency, o.HasLatency = lat, true
	}
	if ss, ok := m.o.Metrics.(metricsource.SlowSource); ok && m.o.Threshold > 0 && !m.noBuckets {
		slow, err := ss.Slower(ctx, sel, m.o.Threshold, w)
		switch {
		case errors.Is(err, metricsource.ErrNoData):
			// No histogram under that name: the interval's percentile is
			// judged instead, and the buckets are not asked for again.
			m.noBuckets = true
			m.warn("no latency histogram buckets (" + err.Error() + "): judging the latency percentile interval by interval instead")
		case err != nil:
			return Obs{}, err
		case slow.Total > 0:
			// The buckets' own total keeps the shares consistent with them.
			o.SlowLo, o.SlowHi, o.HasSlow = slow.Lo*c.Total/slow.Total, slow.Hi*c.Total/slow.Total, true
		}
	}
	return o, nil
}

// notCounts says what makes c no request counts (NaN, infinite or
// negative figures), or "".
func notCounts(c metricsource.Counts) string {
	for _, v := range []struct {
		what string
		n    float64
	}{{"total", c.Total}, {"errors", c.Errors}} {
		if math.IsNaN(v.n) || math.IsInf(v.n, 0) || v.n < 0 {
			return fmt.Sprintf("%s %v", v.what, v.n)
		}
	}
	return ""
}

func (m *metricSource) Close() {}

// Clock is the time the analysis runs on; tests pass a fake one that moves
// only when slept on.
type Clock interface {
	Now() time.Time
	// Sleep waits d or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
}

// RealClock is the wall clock.
type RealClock struct{}

func (RealClock) Now() time.Time { return time.Now() }

func (RealClock) Sleep(ctx context.Context, d time.Duration) error { return clock.Sleep(ctx, d) }
