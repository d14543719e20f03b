package canary

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/pmguard/pmguard/internal/human"
)

// PassCost is how many requests a canary at the healthy point of every
// active check needs to pass: errors at the healthy rate, the healthy share
// of requests slower than the latency threshold, a baseline that behaves
// the same. It is simulated with the judge itself, so it covers every check
// and how they combine (a pass waits for the slowest).
type PassCost struct {
	Mean, P99 float64
	// Undecided is the share of such canaries still undecided after the
	// limit given to EstimatePassCost.
	Undecided float64
}

// passCostRuns canaries are simulated: enough for the mean within about
// 5% and a rough 99th percentile, in about a tenth of a second.
const passCostRuns = 200

// passCostCap bounds one simulated canary, whatever limit is: far past
// what any healthy canary needs (about 1,000 to 3,000 requests).
const passCostCap = 50_000

// EstimatePassCost simulates healthy canaries under c (judged 10 requests
// at a time), with a fixed seed: the same settings always print the same
// estimate. Each runs until it is decided or reaches passCostCap requests,
// so the mean does not depend on limit and the cost is bounded whatever
// rate × max_duration is; Undecided is the share that needs more than
// limit requests, or is still undecided at the cap.
func EstimatePassCost(c Criteria, limit int) PassCost {
	c.PerRequest = true
	r := rand.New(rand.NewPCG(1, 2))
	p0 := c.healthy()
	pass, _ := c.latencyShares()
	// Latencies are exponential, scaled so that the healthy share is slower
	// than the threshold (or, without one, around 100 ms).
	scale := 0.1
	if c.Latency > 0 {
		scale = c.Latency.Seconds() / math.Log(1/pass)
	}
	gen := func(ss []Sample) {
		for i := range ss {
			ss[i] = Sample{HasLatency: true, Latency: time.Duration(r.ExpFloat64() * scale * float64(time.Second))}
			if r.Float64() < p0 {
				ss[i].Err, ss[i].Kind = true, "status 500"
			}
		}
	}
	need := make([]float64, 0, passCostRuns)
	undecided := 0
	cs, bs := make([]Sample, 10), make([]Sample, 10)
	for range passCostRuns {
		j := NewJudge(c)
		for sent := 0; sent < passCostCap && j.State() == Running; sent += len(cs) {
			gen(cs)
			b := Batch{Canary: Obs{Samples: cs}}
			if c.Baseline {
				gen(bs)
				b.Baseline = &Obs{Samples: bs}
			}
			j.Add(b)
		}
		if j.State() == Running || j.n > float64(limit) {
			undecided++
		}
		need = append(need, j.n)
	}
	sort.Float64s(need)
	mean := 0.0
	for _, n := range need {
		mean += n
	}
	return PassCost{
		Mean:      math.Max(mean/float64(len(need)), float64(c.MinSamples)),
		P99:       need[len(need)*99/100],
		Undecided: float64(undecided) / float64(len(need)),
	}
}

// ExpectedToPass is about how many requests a canary at the healthy point
// of every check needs to pass, on average (at least MinSamples).
func (j *Judge) ExpectedToPass() float64 {
	return EstimatePassCost(j.c, passCostCap).Mean
}

// notePassCost says up front what a healthy canary costs with every active
// check, under the criteria of j (a step's alpha with steps), so a
// max_duration too short for the rate is noticed before it ends in
// inconclusive.
func (o *Options) notePassCost(out io.Writer, j *Judge) {
	c := j.c
	// Every step of a rollout has the same criteria (alpha split evenly):
	// one estimate says it for all of them.
	if o.passCostNoted {
		return
	}
	o.passCostNoted = true
	if o.Source != "probe" {
		o.noteIntervals(out, j)
		return // the request rate is not known in advance
	}
	rate := float64(o.Rate)
	allowed := int(rate * o.MaxDuration.Seconds())
	pc := EstimatePassCost(c, max(allowed, 1))
	fmt.Fprintf(out, "canary: a canary at the healthy point of every check (%s) passes after about %.0f requests on average (%.0fs at %s/s)\n", o.healthyPoint(), pc.Mean, pc.Mean/rate, trimFloat(rate))
	if pc.Undecided > 0.005 {
		fmt.Fprintf(out, "canary: note: max_duration %s allows %s at this rate; about %s of healthy canaries will still be undecided then (inconclusive): raise rate or max_duration\n", o.MaxDuration, human.Count(allowed, "request"), human.Percent(pc.Undecided))
	}
}

// healthyPoint describes the canary EstimatePassCost simulates.
func (o *Options) healthyPoint() string {
	c := o.Criteria
	s := "errors " + human.Percent(c.healthy())
	if c.Latency > 0 {
		pass, _ := c.latencyShares()
		s += fmt.Sprintf(", %s slower than %s", human.Percent(pass), c.Latency)
	}
	if c.Baseline {
		s += ", baseline alike"
	}
	return s
}

// noteIntervals says, for a metric source, how many intervals its sign
// tests over intervals (latency without histogram buckets, baseline
// latency) need to fail a slow canary, and warns when max_duration does not
// allow that many: such a canary would end inconclusive, not failed.
func (o *Options) noteIntervals(out io.Writer, j *Judge) {
	iv := o.Interval.Duration
	if iv <= 0 {
		return
	}
	allowed := int(o.MaxDuration.Duration / iv)
	for _, t := range []struct {
		what string
		s    *sprt
	}{{"latency (without histogram buckets)", j.latIntT}, {"baseline latency", j.baseLatIntT}} {
		if t.s == nil {
			continue
		}
		need := t.s.toFail()
		fmt.Fprintf(out, "canary: the %s check reads one percentile per interval: failing a slow canary takes at least %s (%s at interval %s)\n", t.what, human.Count(need, "interval"), time.Duration(need)*iv, iv)
		if allowed < need {
			fmt.Fprintf(out, "canary: note: max_duration %s allows %s: too few for the %s check to fail a slow canary, which would end inconclusive: raise max_duration or shorten interval\n", o.MaxDuration, human.Count(allowed, "interval"), t.what)
		}
	}
}
