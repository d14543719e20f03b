package metricsource

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strconv"
	"time"
)

// DefaultPromBuckets counts requests per histogram bucket over the window:
// cumulative counts by upper bound (le), as Prometheus histograms keep them.
const DefaultPromBuckets = `sum by (le) (increase(http_request_duration_seconds_bucket{$__selector}[$__window]))`

// Slow is how many requests in a window were slower than a threshold, as
// far as histogram buckets tell: at least Lo (slower than the bucket bound
// at or above the threshold) and at most Hi (slower than the bound at or
// below it). With a bucket bound at the threshold both are exact.
type Slow struct {
	Lo, Hi, Total float64
	// Below and Above are the bucket bounds used, in seconds.
	Below, Above float64
}

// SlowSource is a metric system that keeps latency histograms; *Prometheus
// implements it.
type SlowSource interface {
	Slower(ctx context.Context, selector string, threshold time.Duration, w Window) (Slow, error)
}

var _ SlowSource = (*Prometheus)(nil)

// Slower implements SlowSource with the Buckets query. No bucket series is
// ErrNoData (the service keeps no histogram under that name).
func (p *Prometheus) Slower(ctx context.Context, selector string, threshold time.Duration, w Window) (Slow, error) {
	vars, err := p.vars(selector, w, 0)
	if err != nil {
		return Slow{}, err
	}
	query := expand(p.queries.Buckets, vars)
	samples, err := p.Query(ctx, query, w.End)
	if err != nil {
		return Slow{}, err
	}
	return slowFromBuckets(samples, threshold.Seconds(), query)
}

// slowFromBuckets brackets the count slower than t (seconds) from
// cumulative bucket counts labelled le.
func slowFromBuckets(samples []Sample, t float64, query string) (Slow, error) {
	type bucket struct{ le, n float64 }
	var bs []bucket
	for _, s := range samples {
		le, err := strconv.ParseFloat(s.Metric["le"], 64)
		if err != nil {
			return Slow{}, fmt.Errorf("prometheus: bucket query gave a series without a numeric le label (%v); query: %s", s.Metric, query)
		}
		bs = append(bs, bucket{le, nanZero(s.Value)})
	}
	sort.Slice(bs, func(a, b int) bool { return bs[a].le < bs[b].le })
	if len(bs) == 0 || !math.IsInf(bs[len(bs)-1].le, 1) {
		return Slow{}, &NoDataError{Source: "prometheus", Query: query, Reason: "no +Inf bucket (not a histogram)"}
	}
	// increase() extrapolates each series on its own, so cumulative counts
	// may dip slightly; keep them monotone.
	for i := 1; i < len(bs); i++ {
		bs[i].n = math.Max(bs[i].n, bs[i-1].n)
	}
	total := bs[len(bs)-1].n
	s := Slow{Total: total, Lo: 0, Hi: total, Below: 0, Above: math.Inf(1)}
	for _, b := range bs {
		if b.le <= t {
			s.Below, s.Hi = b.le, total-b.n
		}
		if b.le >= t && math.IsInf(s.Above, 1) {
			s.Above, s.Lo = b.le, total-b.n
		}
	}
	if math.IsInf(s.Above, 1) {
		s.Lo = 0
	}
	return s, nil
}
