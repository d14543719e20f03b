package canary

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/pmguard/pmguard/internal/human"
)

// Criteria are what the judge holds the canary to.
type Criteria struct {
	// ErrorThreshold is the error rate a canary must not reach (p1 of the
	// sequential test); HealthyRate is the rate it must be shown to be near
	// (p0); 0 means ErrorThreshold/2.
	ErrorThreshold float64
	HealthyRate    float64
	// Latency is the threshold for the Quantile-th latency percentile; zero
	// disables the latency check.
	Latency  time.Duration
	Quantile float64 // 0.5, 0.9, 0.95 or 0.99
	// LatencyPassShare and LatencyFailShare are the latency test's
	// hypotheses: a canary with at most LatencyPassShare of its requests
	// slower than Latency is healthy (it is failed with probability at most
	// its share of Alpha), one with LatencyFailShare or more is not (passed
	// with probability at most Beta). 0 means 1-Quantile (a canary exactly
	// meeting the percentile is healthy) and twice that.
	LatencyPassShare, LatencyFailShare float64
	// Alpha is the chance of failing a healthy canary (a false rollback),
	// shared equally among the checks that can fail it; Beta is the chance
	// of passing one at a threshold or worse.
	Alpha, Beta float64
	// MinSamples requests are needed before the canary can pass.
	MinSamples int
	// Baseline compares the canary with the stable version: it fails when
	// its error rate or latency is worse by more than Margin (0.5: 50%).
	Baseline bool
	Margin   float64
	// PerRequest says the source reports every request (the probe), so
	// latency is tested request by request; metric sources give counts and
	// a percentile per interval instead.
	PerRequest bool
	// RunCap+1 is the longest run of errors (or of slow requests) that is
	// taken for one stall or burst: such a run of burstLen or more counts
	// nothing on the fail side and once on the pass side (see runs). 0
	// counts every request (independent samples).
	RunCap int
}

func (c Criteria) healthy() float64 {
	if c.HealthyRate > 0 {
		return c.HealthyRate
	}
	return c.ErrorThreshold / 2
}

// latencyShares returns the latency test's healthy and failing shares of
// requests slower than the threshold.
func (c Criteria) latencyShares() (pass, fail float64) {
	pass, fail = c.LatencyPassShare, c.LatencyFailShare
	if pass <= 0 {
		pass = 1 - c.Quantile
	}
	if fail <= 0 {
		fail = defaultFailShare(pass)
	}
	return pass, fail
}

// defaultFailShare is twice the healthy share, kept below 1: p95 (5% slower
// allowed) fails at 10% slower, p50 at 75%.
func defaultFailShare(pass float64) float64 {
	return math.Min(2*pass, (1+pass)/2)
}

// checks is how many checks can fail the canary; alpha is split among them.
func (c Criteria) checks() int {
	n := 1
	if c.Latency > 0 {
		n++
	}
	if c.Baseline {
		n += 2 // errors and latency
	}
	return n
}

// State is where the analysis stands.
type State string

const (
	Running      State = "running"
	Passed       State = "pass"
	Failed       State = "fail"
	Inconclusive State = "inconclusive"
)

// Judge turns batches into a verdict. It is not safe for concurrent use.
type Judge struct {
	c     Criteria
	alpha float64 // per check

	errT *sprt // canary error rate
	// latT: the share of requests slower than the threshold (probe, or
	// histogram buckets from a metric source); latIntT: how often an
	// interval's percentile is above the threshold (a metric source
	// without buckets).
	latT, latIntT *sprt

	// Baseline: baseErrT, which track the errors come from; floorT, whether
	// the canary's own error rate is above its healthy rate (a canary at or
	// under it is never failed for being worse than its baseline);
	// baseLatT, the canary's share slower than (1+margin) times the
	// baseline's percentile (probe); baseLatIntT, how often an interval's
	// canary percentile is above that (metric sources).
	baseErrT *twoCount
	floorT   *sprt
	// baseErrPassed: the two together have shown the canary no worse.
	baseErrPassed bool
	baseLatT      *sprt
	baseLatIntT   *sprt
	baseRef       time.Duration   // the probe's reference latency, once fixed
	baseRefLo     time.Duration   // the same from a lower bound, for the pass side
	refAt         int64           // baseline requests at which it is fixed again
	refTries      int             // how often it has been fixed
	pendingLat    []time.Duration // canary latencies before it is

	// Runs of errors (or of slow requests) up to RunCap+1 long, one stall
	// seen by an open-loop probe or a burst of errors, count as one event
	// or none (see runs).
	errRun, slowRun, refRun, baseRun runs
	skippedErr, skippedSlow          float64

	hist, baseHist lazyHist
	n, errs        float64
	bn, berrs      float64
	kinds          map[string]int
	// bucketed says a metric source gave slow-request counts.
	bucketed bool

	// Metric sources: the latest interval's percentiles.
	lastLat, lastBaseLat       time.Duration
	hasLastLat, hasLastBaseLat bool

	state  State
	reason string
	check  string // the check that decided
}

// Sign tests over intervals: an interval's percentile is above the bar with
// probability at most 1/2 for a healthy canary (it is as likely to come out
// above its true value as below), and at least intervalBad for one that
// clearly fails it.
const intervalBad = 0.9

// NewJudge returns a judge for c; c must have been validated.
func NewJudge(c Criteria) *Judge {
	// Histograms are allocated on first use: a simulation runs thousands
	// of judges that never see a latency.
	j := &Judge{c: c, state: Running, kinds: map[string]int{}}
	for _, r := range []*runs{&j.errRun, &j.slowRun, &j.refRun, &j.baseRun} {
		r.limit = c.RunCap
	}
	j.alpha = c.Alpha / float64(c.checks())
	j.errT = newSPRT(c.healthy(), c.ErrorThreshold, j.alpha, c.Beta)
	runsOut := c.PerRequest && c.RunCap > 0
	if runsOut {
		j.errT.guarded()
	}
	if c.Latency > 0 {
		pass, fail := c.latencyShares()
		j.latT = newSPRT(pass, fail, j.alpha, c.Beta)
		if runsOut {
			j.latT.guarded()
		}
		if !c.PerRequest {
			j.latIntT = newSPRT(0.5, intervalBad, j.alpha, c.Beta).single()
		}
	}
	if c.Baseline {
		j.baseErrT = newTwoCount(1+c.Margin, j.alpha)
		p0 := c.healthy()
		j.floorT = newSPRT(p0, math.Min(p0*(1+c.Margin), (1+p0)/2), j.alpha, c.Beta)
		if c.PerRequest {
			// Half of this check's alpha covers the chance that the
			// reference (an upper confidence bound) is below the baseline's
			// true percentile, half the test itself.
			pass := 1 - c.Quantile
			j.baseLatT = newSPRT(pass, defaultFailShare(pass), j.alpha/2, c.Beta)
		} else {
			j.baseLatIntT = newSPRT(0.5, intervalBad, j.alpha, c.Beta).single()
		}
	}
	return j
}

// State returns the current state.
func (j *Judge) State() State { return j.state }

// Add feeds one batch; it returns the state after it.
func (j *Judge) Add(b Batch) State {
	if j.state != Running {
		return j.state
	}
	if b.Canary.Samples != nil {
		j.addSamples(b.Canary.Samples, b.Baseline)
	} else {
		j.addCounts(&b.Canary, b.Baseline)
	}
	if j.state == Running {
		j.checkPass()
	}
	return j.state
}

func usOf(d time.Duration) int64 {
	if us := d.Microseconds(); us >= 1 {
		return us
	}
	return 1
}

// addSamples judges the probe's requests one by one. The baseline's batch
// (requests scheduled at the same times) is taken in first; its errors are
// compared with the canary's once the batch is through.
func (j *Judge) addSamples(ss []Sample, base *Obs) {
	var be, bt float64
	if base != nil && j.c.Baseline {
		be, bt = j.addBaseSamples(base.Samples)
	}
	var ce, ct float64
	for _, s := range ss {
		j.n++
		if s.Err {
			j.errs++
			j.kinds[s.Kind]++
		}
		if j.errRun.passTrial() {
			// The two-count comparison has no per-request factors to take
			// back with: a run counts once there.
			ce += b2f(s.Err)
			ct++
		}
		j.skippedErr += j.errRun.feed(s.Err, j.errT, j.floorT)
		j.noteBaseErrPass()
		if s.HasLatency {
			j.hist.record(usOf(s.Latency))
			if j.latT != nil {
				j.skippedSlow += j.slowRun.feed(s.Latency > j.c.Latency, j.latT)
			}
			j.baseLatSample(s.Latency)
		}
		if j.checkFail() || j.checkPass() {
			// Deciding request by request keeps the sample count the one at
			// which the evidence sufficed.
			return
		}
	}
	if bt > 0 && ct > 0 {
		j.baseErrT.add(ce, be, ct/bt)
		j.noteBaseErrPass()
		j.checkFail()
	}
}

// addBaseSamples takes in the baseline's requests and returns its errors
// and requests that count as trials (those following a request without an
// error); the baseline's latencies fix the reference for the latency
// comparison once there are enough of them.
func (j *Judge) addBaseSamples(bs []Sample) (errs, trials float64) {
	for _, s := range bs {
		j.bn++
		if s.Err {
			j.berrs++
		}
		if j.baseRun.passTrial() {
			trials++
			errs += b2f(s.Err)
		}
		j.baseRun.push(s.Err)
		if s.HasLatency {
			j.baseHist.record(usOf(s.Latency))
		}
	}
	if j.baseLatT != nil && j.baseHist.TotalCount() >= max(j.refAt, 1) {
		j.fixReference()
	}
	return errs, trials
}

// fixReference sets the probe's latency reference to (1+margin) times an
// upper confidence bound of the baseline's percentile, and tightens it each
// time the baseline's requests double. The k-th bound may be wrong with
// probability alpha/2^(k+2) of the check's alpha, so all of them together
// with probability at most alpha/2; the test itself has the other half.
// The reference depends on the baseline's requests only, so the canary
// requests seen before it was first fixed are tested against it then.
func (j *Judge) fixReference() {
	n := j.baseHist.TotalCount()
	miss := j.alpha / math.Pow(2, float64(j.refTries+2))
	hi, ok := quantileUpper(j.baseHist.h, j.c.Quantile, miss)
	if !ok {
		return
	}
	lo := quantileLower(j.baseHist.h, j.c.Quantile, miss)
	j.refTries++
	j.refAt = 2 * n
	m := 1 + j.c.Margin
	ref, refLo := time.Duration(float64(usDur(hi))*m), time.Duration(float64(usDur(lo))*m)
	first := j.baseRef == 0
	if first || ref < j.baseRef {
		j.baseRef = ref
	}
	// The pass side counts requests slower than (1+margin) times a lower
	// bound: it can only overcount, so a loose early reference never
	// passes a canary the baseline's true percentile would fail.
	j.baseRefLo = max(j.baseRefLo, min(refLo, j.baseRef))
	if first {
		pend := j.pendingLat
		j.pendingLat = nil
		for _, l := range pend {
			j.baseLatSample(l)
		}
	}
}

// baseLatSample tests one canary latency against the baseline reference,
// or keeps it until the reference is fixed.
func (j *Judge) baseLatSample(l time.Duration) {
	if j.baseLatT == nil {
		return
	}
	if j.baseRef == 0 {
		j.pendingLat = append(j.pendingLat, l)
		return
	}
	slowHi := l > j.baseRefLo
	if j.refRun.passTrial() {
		j.baseLatT.addBounds(b2f(l > j.baseRef), b2f(slowHi), 1)
	}
	j.refRun.push(slowHi)
}

// burstLen is the length from which a run counts nothing on the fail side.
// It is 2: a pair (a retry failing twice, a pod restart) is as easy to
// place anywhere as a longer burst, so the guarantee for runs holds only if
// a pair's factors multiply to at most 1 as well, and the first error of a
// run counts as independent, so the second must take it back. An error
// apart (a good request before and after it) counts as independent.
const burstLen = 2

// runs follows one test's events (errors, or slow requests) and decides
// what each request is to the test's two sides, from the requests before
// it only. n is the number of events in a row just before the request.
//
// Fail side: the first burstLen-1 events of a run are trials. The next
// request takes them back if it is an event too (sprt.takeBack) and is
// left out if not; the rest of the run, up to limit+1 requests in all, is
// left out. A run longer than that is not a stall: from there every
// request is a trial again, so a canary that fails every request is still
// failed. The fail boundary is not looked at while a run has counted
// events that may still be taken back (open); when it ends short of
// burstLen, the value it reached counts.
//
// Pass side: the first event of a run is a trial and the rest of the run,
// up to limit+1 requests, is not: a stall costs the pass one event, as
// before. Leaving out requests on a rule fixed in advance keeps 1/L1 a
// supermartingale for a rate at p1 or above.
type runs struct{ n, limit int }

// failStep is what the request is to the fail side.
type failStep int

const (
	stepTrial failStep = iota
	stepTakeBack
	stepSkip
)

// counted is how many events of the run the fail side counts before
// taking them back (burstLen-1, less when the allowance is shorter).
func (r *runs) counted() int { return min(burstLen, r.limit+1) - 1 }

func (r *runs) failStep() failStep {
	switch {
	case r.limit <= 0 || r.n < r.counted() || r.n > r.limit:
		return stepTrial
	case r.n == r.counted():
		return stepTakeBack
	}
	return stepSkip
}

func (r *runs) passTrial() bool { return r.limit <= 0 || r.n == 0 || r.n > r.limit }

// open reports whether the run has counted events that a burst would take
// back.
func (r *runs) open() bool { return r.limit > 0 && r.n > 0 && r.n <= r.counted() }

func (r *runs) push(event bool) {
	if event {
		r.n++
	} else {
		r.n = 0
	}
}

// feed gives one request to the tests ts (nil ones are skipped) and
// returns how many events the fail side left out with it (the ones a
// take-back undoes, and this one if it is an event and not a trial).
func (r *runs) feed(event bool, ts ...*sprt) (left float64) {
	wasOpen, pass, step := r.open(), r.passTrial(), r.failStep()
	k, e := float64(r.counted()), b2f(event)
	for _, t := range ts {
		if t == nil {
			continue
		}
		if wasOpen && !event {
			t.look() // the run ended short of a burst
		}
		if pass {
			t.pass(e, 1)
			t.guardTrial(e)
		}
		switch {
		case step == stepTrial:
			if event && r.n == 0 && r.limit > 0 {
				t.markRun()
			}
			t.fail(e, 1)
		case step == stepTakeBack && event:
			t.takeBack(k)
		}
	}
	r.push(event)
	if !r.open() {
		for _, t := range ts {
			if t != nil {
				t.look()
			}
		}
	}
	switch {
	case step == stepTrial || !event:
		return 0
	case step == stepTakeBack:
		return k + 1
	}
	return 1
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// addCounts takes one interval of a metric source.
func (j *Judge) addCounts(o *Obs, base *Obs) {
	t, e := o.total(), o.errors()
	j.n += t
	j.errs += e
	j.errT.add(e, t)
	if j.floorT != nil {
		j.floorT.add(e, t)
	}
	if o.HasSlow && t > 0 && j.latT != nil {
		// Histogram buckets bracket the threshold: the count slower than the
		// bucket bound at or above it can only undercount, so it decides a
		// fail; the one below it can only overcount, so it decides a pass.
		j.bucketed = true
		j.latT.addBounds(o.SlowLo, o.SlowHi, t)
	}
	if o.HasLatency && t > 0 {
		j.lastLat, j.hasLastLat = o.Latency, true
		// With buckets the latency check is theirs alone: two fail
		// tests at alpha each would spend twice the check's alpha.
		if j.latIntT != nil && !j.bucketed {
			j.latIntT.add(b2f(o.Latency > j.c.Latency), 1)
		}
	}
	if base != nil && j.c.Baseline {
		bt, be := base.total(), base.errors()
		j.bn += bt
		j.berrs += be
		if bt > 0 && t > 0 {
			j.baseErrT.add(e, be, t/bt)
		}
		if base.HasLatency && bt > 0 {
			j.lastBaseLat, j.hasLastBaseLat = base.Latency, true
			if o.HasLatency && t > 0 {
				j.baseLatIntT.add(b2f(float64(o.Latency) > float64(base.Latency)*(1+j.c.Margin)), 1)
			}
		}
	}
	j.checkFail()
	j.noteBaseErrPass()
}

// checkFail decides a fail as soon as any check reaches its fail boundary.
func (j *Judge) checkFail() bool {
	switch {
	case j.errT.crossedA:
		lo, hi := wilson(j.errs, j.n, z95)
		j.decide(Failed, "error rate", fmt.Sprintf("error rate %s (95%% CI %s-%s, %s errors in %s requests) is too high: the sequential test of the healthy %s against the %s threshold or worse reached its fail boundary (%s)%s",
			human.Percent(j.errs/j.n), human.Percent(lo), human.Percent(hi), count(j.errs), count(j.n), human.Percent(j.c.healthy()), human.Percent(j.c.ErrorThreshold), j.errT.failFigures(), j.runsNote(j.errT, j.skippedErr, "error")))
	case j.latT != nil && j.latT.crossedA:
		pass, fail := j.c.latencyShares()
		j.decide(Failed, "latency", fmt.Sprintf("%s latency is above %s: %s of requests were slower than that (%s of %s), against the %s a healthy canary may have and the %s that fails it (%s)%s",
			j.pname(), j.c.Latency, human.Percent(safeDiv(j.latT.eventsFail, j.latT.nFail)), count(j.latT.eventsFail), count(j.latT.nFail), human.Percent(pass), human.Percent(fail), j.latT.failFigures(), j.runsNote(j.latT, j.skippedSlow, "slow request")))
	case j.latIntT != nil && !j.bucketed && j.latIntT.crossedA:
		j.decide(Failed, "latency", fmt.Sprintf("%s latency was above %s in %d of %d intervals (latest %s): more often than the half of intervals a canary meeting it can show (sign test over intervals, likelihood ratio %s >= 1/alpha = %s)",
			j.pname(), j.c.Latency, int(j.latIntT.events), int(j.latIntT.n), ms(j.lastLat), num(math.Exp(j.latIntT.mixLLR())), num(math.Exp(j.latIntT.a))))
	case j.baseErrT != nil && j.baseErrT.crossedA() && j.floorT.crossedA:
		j.decide(Failed, "baseline error rate", fmt.Sprintf("canary error rate %s is more than %s above the baseline's %s (of %s errors that start a run in either track, %s were the canary's; likelihood ratio %s >= 1/alpha = %s), and above its healthy %s (likelihood ratio %s)",
			human.Percent(j.errs/j.n), human.Percent(j.c.Margin), human.Percent(safeDiv(j.berrs, j.bn)), count(j.baseErrT.n), count(j.baseErrT.canary), num(math.Exp(j.baseErrT.mixLLR())), num(math.Exp(j.baseErrT.a)), human.Percent(j.c.healthy()), num(math.Exp(j.floorT.mixLLR()))))
	case j.baseLatT != nil && j.baseLatT.crossedA:
		j.decide(Failed, "baseline latency", fmt.Sprintf("canary %s latency is more than %s above the baseline's: %s of canary requests (%s of %s) were slower than %s (%s times the baseline's %s upper bound), against the %s allowed (likelihood ratio %s >= 1/alpha = %s)",
			j.pname(), human.Percent(j.c.Margin), human.Percent(j.baseLatT.eventsFail/j.baseLatT.n), count(j.baseLatT.eventsFail), count(j.baseLatT.n), ms(j.baseRef), trimFloat(1+j.c.Margin), j.pname(), human.Percent(1-j.c.Quantile), num(math.Exp(j.baseLatT.mixLLR())), num(math.Exp(j.baseLatT.a))))
	case j.baseLatIntT != nil && j.baseLatIntT.crossedA:
		j.decide(Failed, "baseline latency", fmt.Sprintf("canary %s latency was more than %s above the baseline's in %d of %d intervals (latest %s against %s; sign test over intervals, likelihood ratio %s >= 1/alpha = %s)",
			j.pname(), human.Percent(j.c.Margin), int(j.baseLatIntT.events), int(j.baseLatIntT.n), ms(j.lastLat), ms(j.lastBaseLat), num(math.Exp(j.baseLatIntT.mixLLR())), num(math.Exp(j.baseLatIntT.a))))
	default:
		return false
	}
	return true
}

// failFigures states the likelihood ratio that reached the fail boundary.
func (s *sprt) failFigures() string {
	if s.byRuns {
		return fmt.Sprintf("counting each run of them once, their rate is above the threshold itself: likelihood ratio %s >= 1/(%s of alpha) = %s", num(math.Exp(mixAfter(s.guard, 0))), human.Percent(guardShare), num(math.Exp(s.ga)))
	}
	return fmt.Sprintf("likelihood ratio %s >= 1/alpha = %s", num(math.Exp(s.mixLLR())), num(math.Exp(s.a)))
}

// runsNote says how many events the fail side left out or took back.
func (j *Judge) runsNote(t *sprt, skipped float64, what string) string {
	switch {
	case skipped == 0:
		return ""
	case t.byRuns:
		return fmt.Sprintf("; the %ss came in runs (%s of them in runs of %d or more): one stall would count nothing towards a fail, but this many runs fail the canary counted once each", what, count(skipped), burstLen)
	}
	return fmt.Sprintf("; %s %ss in runs of %d or more within stall_allowance were left out or taken back (such a run counts nothing towards a fail, once towards a pass)", count(skipped), what, burstLen)
}

// pending names the first check that has not accepted the canary yet, or
// "" when every check has.
func (j *Judge) pending() string {
	switch {
	case j.n < float64(j.c.MinSamples) || j.n == 0:
		return "min_samples"
	case !j.errT.crossedB:
		return "error rate"
	case j.c.Latency > 0 && !j.latencyAccepted():
		return "latency"
	case j.c.Baseline && !j.baselineErrAccepted():
		return "baseline error rate"
	case j.c.Baseline && !j.baselineLatAccepted():
		return "baseline latency"
	}
	return ""
}

func (j *Judge) latencyAccepted() bool {
	if j.c.PerRequest || j.bucketed {
		return j.latT.crossedB
	}
	return j.latIntT.crossedB
}

// baselineErrAccepted: the canary's errors are shown to be no more than the
// baseline's by the margin, or the canary is shown to be near its own
// healthy rate (where a baseline comparison cannot fail it), by the two
// tests' evidence together (noteBaseErrPass). It needs baseline data: no
// data is never a pass.
func (j *Judge) baselineErrAccepted() bool {
	return j.bn > 0 && j.baseErrPassed
}

// noteBaseErrPass marks the baseline error comparison passed once the mean
// of its two tests' 1/L (the two-count test at 1+margin, the floor test at
// (1+margin) times the healthy rate) reaches 1/beta. A canary that fails
// the comparison's H1 is at or past both tests' alternatives, where each
// 1/L is a non-negative supermartingale with mean at most 1, and so is
// their mean: by Ville's inequality it ever reaches 1/beta with
// probability at most beta. (Passing on either test's own beta boundary
// would miss with probability up to 2·beta.)
func (j *Judge) noteBaseErrPass() {
	if j.baseErrT == nil || j.baseErrPassed {
		return
	}
	if logMeanExp(-j.baseErrT.llr[0], -j.floorT.llr) >= -j.floorT.b {
		j.baseErrPassed = true
	}
}

func (j *Judge) baselineLatAccepted() bool {
	if j.baseLatT != nil {
		return j.baseLatT.crossedB
	}
	return j.baseLatIntT.crossedB
}

// checkPass passes the canary once every check has accepted and the
// minimum sample count is reached.
func (j *Judge) checkPass() bool {
	if j.state != Running || j.pending() != "" {
		return false
	}
	why := fmt.Sprintf("error rate %s is consistent with the healthy %s: the sequential test reached its pass boundary (likelihood ratio %s <= beta = %s) after %s requests",
		human.Percent(j.errs/j.n), human.Percent(j.c.healthy()), num(math.Exp(j.errT.llr)), num(math.Exp(j.errT.b)), count(j.n))
	if j.c.Latency > 0 {
		pass, _ := j.c.latencyShares()
		why += fmt.Sprintf("; %s latency %s is under %s (at most %s of requests slower, shown)", j.pname(), ms(j.latency()), j.c.Latency, human.Percent(pass))
	}
	if j.c.Baseline {
		why += "; no worse than the baseline by " + human.Percent(j.c.Margin)
	}
	j.decide(Passed, "all", why)
	return true
}

// Finish ends an analysis that ran out of time or data.
func (j *Judge) Finish(why string) State {
	if j.state != Running {
		return j.state
	}
	switch {
	case j.n == 0:
		j.decide(Inconclusive, "traffic", "no traffic: the canary served no requests to judge"+suffix(why))
	case j.c.PerRequest && j.errs == j.n:
		// Too few for the sequential test, but the probe's own requests
		// all failed (timed out, refused, a bad status): a canary that
		// answers nothing as expected is failing, not undecided.
		every := "every one of the " + count(j.n) + " requests"
		if j.n == 1 {
			every = "the one request"
		}
		j.decide(Failed, "error rate", fmt.Sprintf("the canary failed %s sent to it (%s)", every, j.Evidence().Kinds())+suffix(why))
	case j.n < float64(j.c.MinSamples):
		j.decide(Inconclusive, "traffic", fmt.Sprintf("only %s, fewer than the %d needed", requests(j.n), j.c.MinSamples)+suffix(why))
	default:
		j.decide(Inconclusive, "evidence", fmt.Sprintf("the evidence was not decisive: the %s check reached neither boundary (error rate %s, healthy %s, threshold %s, %s requests; %s)",
			j.pending(), human.Percent(j.errs/j.n), human.Percent(j.c.healthy()), human.Percent(j.c.ErrorThreshold), count(j.n), j.progressLine())+suffix(why))
	}
	return j.state
}

// FailNow ends the analysis with a fail for a reason outside the data (the
// source kept failing).
func (j *Judge) FailNow(check, why string) {
	if j.state == Running {
		j.decide(Failed, check, why)
	}
}

func (j *Judge) decide(s State, check, why string) {
	j.state, j.check, j.reason = s, check, why
}

func suffix(why string) string {
	if why == "" {
		return ""
	}
	return "; " + why
}

// latency returns the current estimate of the chosen percentile.
func (j *Judge) latency() time.Duration {
	if j.c.PerRequest {
		if j.hist.TotalCount() == 0 {
			return 0
		}
		return usDur(j.hist.ValueAtPercentile(100 * j.c.Quantile))
	}
	return j.lastLat
}

func (j *Judge) hasLatency() bool {
	if j.c.PerRequest {
		return j.hist.TotalCount() > 0
	}
	return j.hasLastLat
}

// progressLine is the one-line state of every check.
func (j *Judge) progressLine() string {
	var parts []string
	if j.errT.crossedB {
		parts = append(parts, "error test: healthy")
	} else {
		toPass := max(j.errT.toPass(), j.c.MinSamples-int(j.n))
		parts = append(parts, fmt.Sprintf("error test: fail after %d more errors apart, pass after %d clean requests", j.errT.toFail(), toPass))
	}
	if j.c.Latency > 0 {
		switch {
		case j.latencyAccepted():
			parts = append(parts, "latency test: fast enough")
		case j.latIntT != nil && !j.bucketed:
			parts = append(parts, fmt.Sprintf("latency test: %d of %d intervals above %s", int(j.latIntT.events), int(j.latIntT.n), j.c.Latency))
		default:
			parts = append(parts, fmt.Sprintf("latency test: %s of %s slower than %s", count(j.latT.eventsFail), count(j.latT.nFail), j.c.Latency))
		}
	}
	if j.c.Baseline {
		switch {
		case j.baselineErrAccepted():
			parts = append(parts, "baseline errors: no worse")
		default:
			parts = append(parts, fmt.Sprintf("baseline errors: %s of %s errors the canary's", count(j.baseErrT.canary), count(j.baseErrT.n)))
		}
		switch {
		case j.baselineLatAccepted():
			parts = append(parts, "baseline latency: no worse")
		case j.baseLatT != nil && j.baseRef == 0:
			parts = append(parts, "baseline latency: waiting for enough baseline requests")
		case j.baseLatT != nil:
			parts = append(parts, fmt.Sprintf("baseline latency: %s of %s slower than %s", count(j.baseLatT.eventsFail), count(j.baseLatT.n), ms(j.baseRef)))
		default:
			parts = append(parts, fmt.Sprintf("baseline latency: %d of %d intervals worse", int(j.baseLatIntT.events), int(j.baseLatIntT.n)))
		}
	}
	return strings.Join(parts, "; ")
}

func (j *Judge) pname() string { return "p" + j.pnum() }
func (j *Judge) pnum() string  { return percentileName(j.c.Quantile) }

func percentileName(q float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", q*100), "0"), ".")
}

// Evidence is the figures behind a state: what every report and event shows.
type Evidence struct {
	State       State   `json:"verdict"`
	Check       string  `json:"decided_by,omitempty"`
	Reason      string  `json:"reason"`
	Samples     float64 `json:"samples"`
	Errors      float64 `json:"errors"`
	ErrorRate   float64 `json:"error_rate"`
	ErrorRateLo float64 `json:"error_rate_ci_low"`
	ErrorRateHi float64 `json:"error_rate_ci_high"`
	Threshold   float64 `json:"error_threshold"`
	Healthy     float64 `json:"healthy_error_rate"`
	// ErrorKinds counts probe errors by cause ("status 503": 12).
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`

	Percentile       string   `json:"percentile"`
	LatencyMS        *float64 `json:"latency_ms,omitempty"`
	LatencyLoMS      *float64 `json:"latency_ci_low_ms,omitempty"`
	LatencyHiMS      *float64 `json:"latency_ci_high_ms,omitempty"`
	LatencyThreshold float64  `json:"latency_threshold_ms,omitempty"`
	// LatencyBound explains the interval (or why there is none).
	LatencyBound string `json:"latency_bound"`
	// The latency test's hypotheses and the share of trials slower than
	// the threshold so far.
	LatencyPassShare float64  `json:"latency_pass_share,omitempty"`
	LatencyFailShare float64  `json:"latency_fail_share,omitempty"`
	SlowShare        *float64 `json:"latency_slow_share,omitempty"`
	// Errors (slow requests) the fail side left out, or took back, as part
	// of a run.
	RunSkippedErrors float64 `json:"run_skipped_errors,omitempty"`
	RunSkippedSlow   float64 `json:"run_skipped_slow,omitempty"`

	// ErrorLLR is ln L1 (p1 against p0), held to PassAt; FailLLR is ln M
	// (the mixture), held to FailAt.
	ErrorLLR float64 `json:"error_log_likelihood_ratio"`
	FailLLR  float64 `json:"fail_log_likelihood_ratio"`
	FailAt   float64 `json:"fail_boundary"`
	PassAt   float64 `json:"pass_boundary"`

	Baseline *BaselineEvidence `json:"baseline,omitempty"`
}

// BaselineEvidence is the stable version's figures.
type BaselineEvidence struct {
	Samples   float64  `json:"samples"`
	Errors    float64  `json:"errors"`
	ErrorRate float64  `json:"error_rate"`
	LatencyMS *float64 `json:"latency_ms,omitempty"`
	Margin    float64  `json:"margin"`
}

// Evidence returns the current figures.
func (j *Judge) Evidence() Evidence {
	e := Evidence{
		State: j.state, Check: j.check, Reason: j.reason,
		Samples: j.n, Errors: j.errs, ErrorRate: safeDiv(j.errs, j.n),
		Threshold: j.c.ErrorThreshold, Healthy: j.c.healthy(),
		Percentile: j.pname(),
		ErrorLLR:   j.errT.llr, FailLLR: j.errT.mixLLR(), FailAt: j.errT.a, PassAt: j.errT.b,
	}
	e.ErrorRateLo, e.ErrorRateHi = wilson(j.errs, j.n, z95)
	if len(j.kinds) > 0 {
		e.ErrorKinds = j.kinds
	}
	if j.c.Latency > 0 {
		e.LatencyThreshold = msf(j.c.Latency)
		e.LatencyPassShare, e.LatencyFailShare = j.c.latencyShares()
		if j.latT.nFail > 0 {
			v := j.latT.eventsFail / j.latT.nFail
			e.SlowShare = &v
		}
	}
	e.RunSkippedErrors, e.RunSkippedSlow = j.skippedErr, j.skippedSlow
	if j.hasLatency() {
		v := msf(j.latency())
		e.LatencyMS = &v
		if j.c.PerRequest {
			lo, hi, ok := quantileBounds(j.hist.h, j.c.Quantile)
			l := msf(usDur(lo))
			e.LatencyLoMS = &l
			if ok {
				h := msf(usDur(hi))
				e.LatencyHiMS = &h
				e.LatencyBound = "95% order-statistic interval"
			} else {
				e.LatencyBound = "95% order-statistic interval; too few requests for an upper bound"
			}
		} else {
			e.LatencyBound = "none: the percentile comes pre-aggregated from the metric system for the last interval"
		}
	} else {
		e.LatencyBound = "no latency measured"
	}
	if j.c.Baseline {
		be := &BaselineEvidence{Samples: j.bn, Errors: j.berrs, ErrorRate: safeDiv(j.berrs, j.bn), Margin: j.c.Margin}
		if j.c.PerRequest && j.baseHist.TotalCount() > 0 {
			v := msf(usDur(j.baseHist.ValueAtPercentile(100 * j.c.Quantile)))
			be.LatencyMS = &v
		} else if !j.c.PerRequest && j.hasLastBaseLat {
			v := msf(j.lastBaseLat)
			be.LatencyMS = &v
		}
		e.Baseline = be
	}
	return e
}

// Summary is one line of figures: samples, errors, rate with its interval,
// the percentile with its interval.
func (e Evidence) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s requests, %s errors, error rate %s (95%% CI %s-%s)", count(e.Samples), count(e.Errors), human.Percent(e.ErrorRate), human.Percent(e.ErrorRateLo), human.Percent(e.ErrorRateHi))
	if e.LatencyMS != nil {
		fmt.Fprintf(&b, ", %s %s%s", e.Percentile, human.Millis(*e.LatencyMS), e.latencyCI(""))
	}
	if e.Baseline != nil {
		fmt.Fprintf(&b, "; baseline %s requests, error rate %s", count(e.Baseline.Samples), human.Percent(e.Baseline.ErrorRate))
		if e.Baseline.LatencyMS != nil {
			fmt.Fprintf(&b, ", %s %s", e.Percentile, human.Millis(*e.Baseline.LatencyMS))
		}
	}
	return b.String()
}

// latencyCI is the percentile's 95% interval, " (95% CI lo-hi)", or with
// too few requests for an upper bound " (95% CI from lo<open>)"; "" with
// no lower bound either.
func (e Evidence) latencyCI(open string) string {
	switch {
	case e.LatencyLoMS == nil:
		return ""
	case e.LatencyHiMS == nil:
		return fmt.Sprintf(" (95%% CI from %s%s)", human.Millis(*e.LatencyLoMS), open)
	}
	return fmt.Sprintf(" (95%% CI %s-%s)", human.Millis(*e.LatencyLoMS), human.Millis(*e.LatencyHiMS))
}

// Kinds lists error causes, most frequent first.
func (e Evidence) Kinds() string {
	type kv struct {
		k string
		n int
	}
	var kvs []kv
	for k, n := range e.ErrorKinds {
		kvs = append(kvs, kv{k, n})
	}
	sort.Slice(kvs, func(a, b int) bool {
		if kvs[a].n != kvs[b].n {
			return kvs[a].n > kvs[b].n
		}
		return kvs[a].k < kvs[b].k
	})
	parts := make([]string, len(kvs))
	for i, x := range kvs {
		parts[i] = fmt.Sprintf("%s: %d", x.k, x.n)
	}
	return strings.Join(parts, ", ")
}

// lazyHist is a latency histogram in microseconds, allocated on first use.
type lazyHist struct{ h *hdrhistogram.Histogram }

func (l *lazyHist) record(us int64) {
	if l.h == nil {
		l.h = newHistogram()
	}
	_ = l.h.RecordValue(us) // past 10 minutes is clamped by the timeout anyway
}

// TotalCount is the number of values recorded.
func (l *lazyHist) TotalCount() int64 {
	if l.h == nil {
		return 0
	}
	return l.h.TotalCount()
}

// ValueAtPercentile is the histogram's value at percentile (0-100).
func (l *lazyHist) ValueAtPercentile(p float64) int64 {
	if l.h == nil {
		return 0
	}
	return l.h.ValueAtPercentile(p)
}

func safeDiv(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

func usDur(us int64) time.Duration { return time.Duration(us) * time.Microsecond }

func msf(d time.Duration) float64 { return math.Round(float64(d)/1e3) / 1e3 }

func ms(d time.Duration) string { return human.Millis(msf(d)) }

// requests is n requests, "1 request" for one (metric sources' counts may
// be fractional).
func requests(n float64) string {
	if n == 1 {
		return human.Count(1, "request")
	}
	return count(n) + " requests"
}

func count(f float64) string {
	if f == math.Trunc(f) || f > 1000 {
		return fmt.Sprintf("%.0f", f)
	}
	return fmt.Sprintf("%.1f", f)
}

func num(f float64) string {
	switch {
	case f >= 1e6 || (f < 1e-3 && f > 0):
		return fmt.Sprintf("%.2g", f)
	case f >= 100:
		return fmt.Sprintf("%.0f", f)
	default:
		return fmt.Sprintf("%.3g", f)
	}
}
