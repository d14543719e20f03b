package main

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/pmguard/pmguard/internal/canary"
)

// Metric sources: one batch per 30 s interval, 10 requests/s of real
// traffic (300 an interval), the interval's p95 computed exactly from its
// requests (what a summary or a fine histogram gives).
const (
	intervalSecs = 30
	perInterval  = intervalSecs * rate
)

func metricRun(c canary.Criteria, r *rand.Rand, can traffic, base *traffic) outcome {
	j := canary.NewJudge(c)
	lat := make([]time.Duration, perInterval)
	obs := func(t traffic) canary.Obs {
		ss := t.gen(r, perInterval)
		o := canary.Obs{Total: perInterval}
		for i, s := range ss {
			if s.Err {
				o.Errors++
			}
			lat[i] = s.Latency
		}
		sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
		o.Latency, o.HasLatency = lat[int(c.Quantile*perInterval)], true
		fillMetric(&o, ss, c)
		return o
	}
	for k := 1; k*intervalSecs <= *maxSecs; k++ {
		b := canary.Batch{Canary: obs(can)}
		if base != nil {
			bo := obs(*base)
			b.Baseline = &bo
		}
		if st := j.Add(b); st != canary.Running {
			return outcome{st, float64(k * intervalSecs)}
		}
	}
	return outcome{j.Finish(""), float64(*maxSecs)}
}

func metricTables() {
	c := base()
	c.PerRequest = false
	c.Latency = latThresh
	var rows []row
	for k, s := range []float64{0.025, 0.045, 0.05, 0.10, 0.20} {
		t := traffic{slowShare: s}
		rows = append(rows, row{fmt.Sprintf("p95 check, %.1f%% slower than the threshold", 100*s), many(uint64(600+k), func(r *rand.Rand) outcome { return metricRun(c, r, t, nil) })})
	}
	for k, p := range patterns[1:3] {
		t := traffic{errRate: 0.01, slowShare: 0.025, pattern: p.p}
		rows = append(rows, row{"healthy, " + p.name, many(uint64(610+k), func(r *rand.Rand) outcome { return metricRun(c, r, t, nil) })})
	}
	table("metric source latency: 30 s intervals, 300 requests each, p95 check (no errors unless stated)", rows)

	cb := base()
	cb.PerRequest, cb.Baseline = false, true
	rows = nil
	for k, x := range []struct {
		label   string
		can, bl traffic
	}{
		{"canary = baseline (1% errors, 5% slow)", traffic{errRate: 0.01, slowShare: 0.05}, traffic{errRate: 0.01, slowShare: 0.05}},
		{"zero-error baseline, canary 0.5% errors", traffic{errRate: 0.005}, traffic{}},
		{"canary 5% vs baseline 1% errors", traffic{errRate: 0.05}, traffic{errRate: 0.01}},
		{"canary 20% slow vs baseline 2%", traffic{slowShare: 0.20}, traffic{slowShare: 0.02}},
	} {
		rows = append(rows, row{x.label, many(uint64(620+k), func(r *rand.Rand) outcome { return metricRun(cb, r, x.can, &x.bl) })})
	}
	table("metric source baseline: 30 s intervals, margin 50%", rows)
}
