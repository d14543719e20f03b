package canary

import (
	"math"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// sprt tests a Bernoulli rate sequentially, H0: rate <= p0 against
// H1: rate >= p1, fed with counts of events and non-events.
//
// Passing uses Wald's likelihood ratio of p1 to p0, L1. Failing uses a
// mixture M = sum_k w_k L_k of likelihood ratios of p0 against p1 and
// against a few worse rates (2.5, 5 and 10 times p1), weights summing to 1:
// L_p1 tests the threshold itself, while a clearly broken canary drives the
// L_k of the worse rates up within a few requests.
//
// The boundaries are ln(1/alpha) and ln(beta), not Wald's approximations
// ln((1-beta)/alpha) and ln(beta/(1-alpha)): under p0 each L_k, and so M, is
// a non-negative martingale with mean 1 (a supermartingale for any rate
// below p0), so by Ville's inequality M ever reaches 1/alpha with
// probability at most alpha, however often it is looked at and wherever the
// test is cut short. Symmetrically 1/L1 is a martingale under p1, so L1 ever
// falls to beta with probability at most beta. The error rates hold exactly,
// not approximately.
type sprt struct {
	p0, p1   float64
	a, b     float64 // fail at mixture llr >= a, accept at llr <= b
	incEvent float64 // ln(p1/p0), added to llr per event
	incOK    float64 // ln((1-p1)/(1-p0)), added per non-event (negative)
	llr      float64 // ln L1
	alts     []alt   // the mixture's components, p1 first
	// n and events are what the pass side counted, nFail and eventsFail
	// the fail side: the same unless the two sides see different bounds
	// (addBounds) or different trials (runs).
	n, events         float64
	nFail, eventsFail float64
	runStart          float64 // ln M before the open run (markRun)
	crossedA          bool
	crossedB          bool
	// guard is a second fail side that counts each run of events once
	// (see guarded), with its own boundary ga; byRuns says it decided.
	guard  []alt
	ga     float64
	byRuns bool
}

// alt is one component of the fail-side mixture.
type alt struct {
	lnW, incEvent, incOK, llr float64
}

// The mixture's weight on p1 and the multiples of p1 sharing the rest.
// Runs of errors count nothing towards a fail, so a failing canary shows
// fewer errors than it makes; 0.4 rather than most of the weight on p1
// keeps a 5% canary's time to fail where it was when every request counted
// (scripts/bench/canary/stats), at the price of a slower fail for a canary
// right at the threshold. The pass side, and so beta, does not depend on it.
const mainWeight = 0.4

var altMultiples = []float64{2.5, 5, 10}

func newSPRT(p0, p1, alpha, beta float64) *sprt {
	s := &sprt{
		p0: p0, p1: p1,
		a:        math.Log(1 / alpha),
		b:        math.Log(beta),
		incEvent: math.Log(p1 / p0),
		incOK:    math.Log((1 - p1) / (1 - p0)),
	}
	// Worse rates, kept below 1 (and distinct) so a clean request never
	// rules one out entirely.
	var qs []float64
	for _, m := range altMultiples {
		q := math.Min(p1*m, (1+p1)/2)
		if q > p1 && (len(qs) == 0 || q > qs[len(qs)-1]) {
			qs = append(qs, q)
		}
	}
	w := 1.0
	if len(qs) > 0 {
		w = mainWeight
	}
	s.alts = append(s.alts, alt{lnW: math.Log(w), incEvent: s.incEvent, incOK: s.incOK})
	for _, q := range qs {
		s.alts = append(s.alts, alt{lnW: math.Log((1 - mainWeight) / float64(len(qs))), incEvent: math.Log(q / p0), incOK: math.Log((1 - q) / (1 - p0))})
	}
	return s
}

// single makes s a plain SPRT of p1 (no mixture); for tests whose
// alternative is not a rate to multiply.
func (s *sprt) single() *sprt {
	s.alts = []alt{{incEvent: s.incEvent, incOK: s.incOK}}
	return s
}

// guardShare is the share of a test's alpha its guard (guarded) takes.
const guardShare = 0.05

// guarded gives s a second fail side, the guard, for tests whose fail side
// counts nothing for a run of events (runs): a canary whose errors all come
// in pairs (two of three pods down behind round robin) would never fail
// that side. The guard counts the first event of a run as a trial and
// leaves out the rest of it, as the pass side does, and tests that rate of
// runs against p1 itself, the rate the user said fails, with worse rates
// (2 to 20 times p1) as its alternatives: a canary whose runs alone come
// at more than the threshold is failed within seconds, while a healthy
// one with a burst now and then (its rate of runs well under p1) is not.
// It takes guardShare of alpha, the main side the rest, so the two
// together keep alpha for a healthy canary.
func (s *sprt) guarded() *sprt {
	alpha := math.Exp(-s.a)
	s.a = math.Log(1 / (alpha * (1 - guardShare)))
	g := newSPRT(s.p1, math.Min(2*s.p1, (1+s.p1)/2), alpha*guardShare, 0.5)
	s.guard, s.ga = g.alts, g.a
	return s
}

// guardTrial records one trial of the guard.
func (s *sprt) guardTrial(event float64) {
	if s.guard == nil {
		return
	}
	for i := range s.guard {
		s.guard[i].llr += event*s.guard[i].incEvent + (1-event)*s.guard[i].incOK
	}
	if !s.crossedA && mixAfter(s.guard, 0) >= s.ga {
		s.crossedA, s.byRuns = true, true
	}
}

// add records events out of n observations (floats: metric systems
// extrapolate counts).
func (s *sprt) add(events, n float64) {
	if n <= 0 {
		return
	}
	s.addBounds(events, events, n)
}

// addBounds records n observations whose event count is known only to lie
// between lo and hi (histogram buckets around a threshold): the fail side
// takes lo and the pass side hi, so each errs only towards the other
// verdict and both guarantees hold.
func (s *sprt) addBounds(lo, hi, n float64) {
	if n <= 0 {
		return
	}
	lo, hi = math.Max(0, math.Min(lo, n)), math.Max(0, math.Min(hi, n))
	lo = math.Min(lo, hi)
	s.pass(hi, n)
	s.fail(lo, n)
	s.look()
}

// pass records events out of n on the pass side (L1).
func (s *sprt) pass(events, n float64) {
	s.n += n
	s.events += events
	s.llr += events*s.incEvent + (n-events)*s.incOK
	if s.llr <= s.b {
		s.crossedB = true
	}
}

// fail records events out of n on the fail side (the mixture); look
// decides whether it crossed.
func (s *sprt) fail(events, n float64) {
	s.nFail += n
	s.eventsFail += events
	for i := range s.alts {
		s.alts[i].llr += events*s.alts[i].incEvent + (n-events)*s.alts[i].incOK
	}
}

// markRun records ln M before an event that may start a run, for takeBack.
func (s *sprt) markRun() { s.runStart = s.mixLLR() }

// takeBack undoes the fail side's last k events, which were counted as
// trials since markRun: it sets M back to its value then, multiplying
// every component by the same factor. The events raised every component
// (q > p0), so the factor is at most 1; applied on an event (the run has
// grown) and never on a non-event, it keeps the fail side a
// supermartingale under H0 whatever the rate. Scaling the components
// alike, rather than each by what it gained, leaves the mixture's weight
// shifted towards the worse rates, which a canary failing every few
// requests reaches sooner.
func (s *sprt) takeBack(k float64) {
	s.nFail -= k
	s.eventsFail -= k
	d := s.runStart - s.mixLLR()
	for i := range s.alts {
		s.alts[i].llr += d
	}
}

// look marks the fail boundary crossed if the mixture has reached it.
func (s *sprt) look() {
	if !s.crossedA && s.mixLLR() >= s.a {
		s.crossedA = true
	}
}

// mixLLR is ln M, computed without overflow.
func (s *sprt) mixLLR() float64 {
	return mixAfter(s.alts, 0)
}

// mixAfter is ln M after k more events.
func mixAfter(alts []alt, k float64) float64 {
	return logSumExp(len(alts), func(i int) float64 { return alts[i].lnW + alts[i].llr + k*alts[i].incEvent })
}

// logSumExp is ln of the sum of e^term(i) for i < n, computed without
// overflow: every mixture of likelihood ratios here is one.
func logSumExp(n int, term func(i int) float64) float64 {
	mx := math.Inf(-1)
	for i := range n {
		mx = math.Max(mx, term(i))
	}
	sum := 0.0
	for i := range n {
		sum += math.Exp(term(i) - mx)
	}
	return mx + math.Log(sum)
}

// toFail is how many more events in a row would reach the fail boundary.
func (s *sprt) toFail() int {
	for k := 0; k < 100000; k++ {
		if mixAfter(s.alts, float64(k)) >= s.a {
			return k
		}
	}
	return 100000
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

// twoCount is the conditional test of two Poisson-like counts: given that
// an event happened in either of two tracks whose traffic is w to 1, it is
// the canary's with probability θ = w·r/(w·r+1), r the ratio of their
// rates. H0: r <= 1 (the canary no worse) against r >= r1 = 1+margin. The
// fail side is a mixture over r1, 2·r1 and 4·r1 (as sprt's); the pass side
// is the likelihood ratio of r1, llr[0] (the judge combines it with the
// floor test's, see Judge.noteBaseErrPass). It needs neither rate, and the
// traffic split may change from batch to batch. Under H0 each component is
// a supermartingale, so Ville's inequality bounds the fail side by alpha
// at any look; 1/L(r1) is one under r1.
type twoCount struct {
	rs        []float64
	lnW, llr  []float64
	a         float64
	n, canary float64 // events seen, and the canary's
	failed    bool
}

func newTwoCount(r1, alpha float64) *twoCount {
	t := &twoCount{a: math.Log(1 / alpha)}
	t.rs = []float64{r1, 2 * r1, 4 * r1}
	rest := (1 - mainWeight) / 2
	t.lnW = []float64{math.Log(mainWeight), math.Log(rest), math.Log(rest)}
	t.llr = make([]float64, len(t.rs))
	return t
}

// add records ce canary events and be baseline events with traffic w to 1.
func (t *twoCount) add(ce, be, w float64) {
	if ce+be <= 0 || w <= 0 {
		return
	}
	t.n += ce + be
	t.canary += ce
	th0 := w / (w + 1)
	for k, r := range t.rs {
		th1 := w * r / (w*r + 1)
		t.llr[k] += ce*math.Log(th1/th0) + be*math.Log((1-th1)/(1-th0))
	}
	if t.mixLLR() >= t.a {
		t.failed = true
	}
}

func (t *twoCount) crossedA() bool { return t.failed }

// logMeanExp is ln((e^x + e^y)/2).
func logMeanExp(x, y float64) float64 {
	xs := [2]float64{x, y}
	return logSumExp(2, func(i int) float64 { return xs[i] }) - math.Ln2
}

// mixLLR is ln of the fail side's mixture.
func (t *twoCount) mixLLR() float64 {
	return logSumExp(len(t.llr), func(k int) float64 { return t.lnW[k] + t.llr[k] })
}

// quantileUpper is a distribution-free upper confidence bound for the
// q-quantile of the values in h, wrong with probability at most miss: the
// number of values at or below the true quantile is Binomial(n, q), so the
// order statistic at rank nq + z·sqrt(nq(1-q)) + 1 (z the normal quantile
// for miss) is above it with probability about 1-miss. ok is false while
// that rank is past the largest value.
func quantileUpper(h *hdrhistogram.Histogram, q, miss float64) (int64, bool) {
	if h == nil {
		return 0, false
	}
	n := float64(h.TotalCount())
	z := normalQuantile(1 - miss)
	u := math.Ceil(n*q+z*math.Sqrt(n*q*(1-q))) + 1
	if n == 0 || u > n {
		return 0, false
	}
	return h.ValueAtPercentile(100 * u / n), true
}

// quantileLower is the matching lower confidence bound: the order
// statistic at rank nq - z·sqrt(nq(1-q)), or the smallest value.
func quantileLower(h *hdrhistogram.Histogram, q, miss float64) int64 {
	n := float64(h.TotalCount())
	l := math.Floor(n*q - normalQuantile(1-miss)*math.Sqrt(n*q*(1-q)))
	if l < 1 {
		return h.Min()
	}
	return h.ValueAtPercentile(100 * l / n)
}

// normalQuantile is the standard normal's p-quantile.
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }
