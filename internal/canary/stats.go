package canary

import (
	"math"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// sprt is Wald's sequential probability ratio test of a Bernoulli rate,
// H0: rate <= p0 against H1: rate >= p1, fed with counts of events and
// non-events.
//
// The boundaries are a = ln(1/alpha) and b = ln(beta), not Wald's
// approximations ln((1-beta)/alpha) and ln(beta/(1-alpha)): the likelihood
// ratio is a non-negative martingale under p0 (a supermartingale for any rate
// below it), so by Ville's inequality it ever reaches 1/alpha with probability
// at most alpha, whenever and however often it is looked at and wherever the
// test is cut short. Symmetrically, its inverse under p1 bounds the chance of
// ever reaching beta. The error rates hold exactly, not approximately.
type sprt struct {
	p0, p1    float64
	a, b      float64 // fail at llr >= a, accept at llr <= b
	incEvent  float64 // ln(p1/p0), added per event
	incOK     float64 // ln((1-p1)/(1-p0)), added per non-event (negative)
	llr       float64
	n, events float64
	crossedA  bool
	crossedB  bool
}

func newSPRT(p0, p1, alpha, beta float64) *sprt {
	return &sprt{
		p0: p0, p1: p1,
		a:        math.Log(1 / alpha),
		b:        math.Log(beta),
		incEvent: math.Log(p1 / p0),
		incOK:    math.Log((1 - p1) / (1 - p0)),
	}
}

// add records events out of n observations (floats: metric systems
// extrapolate counts) and reports whether a boundary has been reached.
func (s *sprt) add(events, n float64) {
	if n <= 0 {
		return
	}
	if events > n {
		events = n
	}
	s.n += n
	s.events += events
	s.llr += events*s.incEvent + (n-events)*s.incOK
	if s.llr >= s.a {
		s.crossedA = true
	}
	if s.llr <= s.b {
		s.crossedB = true
	}
}

// toFail is how many more events in a row would reach the fail boundary.
func (s *sprt) toFail() int {
	if s.llr >= s.a {
		return 0
	}
	return int(math.Ceil((s.a - s.llr) / s.incEvent))
}

// toPass is how many more clean observations in a row would reach the accept boundary.
func (s *sprt) toPass() int {
	if s.llr <= s.b {
		return 0
	}
	return int(math.Ceil((s.llr - s.b) / -s.incOK))
}

// wilson is the Wilson score interval for k successes in n trials at the
// normal quantile z. It behaves at k = 0 and for small n, where the Wald
// interval collapses to a point.
func wilson(k, n, z float64) (lo, hi float64) {
	if n <= 0 {
		return 0, 1
	}
	p := k / n
	z2 := z * z
	den := 1 + z2/n
	centre := (p + z2/(2*n)) / den
	half := z * math.Sqrt(p*(1-p)/n+z2/(4*n*n)) / den
	lo, hi = math.Max(0, centre-half), math.Min(1, centre+half)
	if k == 0 {
		lo = 0
	}
	if k == n {
		hi = 1
	}
	return lo, hi
}

// z95 is the two-sided 95% normal quantile used for reported intervals.
const z95 = 1.959963984540054

// quantileBounds returns a distribution-free 95% confidence interval for the
// q-quantile of the latencies in h, in microseconds, from order statistics:
// the number of samples below the true quantile is Binomial(n, q), so the
// order statistics at ranks nq -/+ z*sqrt(nq(1-q)) bracket it. ok is false
// for the upper bound when that rank is past the largest sample (too few
// samples to bound the quantile from above).
func quantileBounds(h *hdrhistogram.Histogram, q float64) (lo, hi int64, hiOK bool) {
	n := float64(h.TotalCount())
	if n == 0 {
		return 0, 0, false
	}
	sd := math.Sqrt(n * q * (1 - q))
	l := math.Floor(n*q - z95*sd)
	u := math.Ceil(n*q+z95*sd) + 1
	if l < 1 {
		lo = h.Min()
	} else {
		lo = h.ValueAtPercentile(100 * l / n)
	}
	if u > n {
		return lo, h.Max(), false
	}
	return lo, h.ValueAtPercentile(100 * u / n), true
}

func newHistogram() *hdrhistogram.Histogram {
	// 1 µs to 10 minutes (past any probe timeout) at 3 significant
	// digits: ~0.1% error at any latency, in ~160 KB.
	return hdrhistogram.New(1, 600_000_000, 3)
}

// expectedToPass is Wald's approximation of the average number of
// observations the test needs when the true rate is p0:
// E[N] = ((1-alpha)*b + alpha*a) / E[step], E[step] = p0*ln(p1/p0) +
// (1-p0)*ln((1-p1)/(1-p0)). It is what a healthy canary costs.
func (s *sprt) expectedToPass() float64 {
	alpha := math.Exp(-s.a)
	step := s.p0*s.incEvent + (1-s.p0)*s.incOK
	return ((1-alpha)*s.b + alpha*s.a) / step
}
