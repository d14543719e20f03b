package main

import "github.com/pmguard/pmguard/internal/canary"

// fillMetric adds what a Prometheus histogram gives: the number of requests
// slower than the threshold, bracketed by the buckets either side of it.
// With a bucket bound at the threshold both are exact.
func fillMetric(o *canary.Obs, ss []canary.Sample, c canary.Criteria) {
	if c.Latency <= 0 || !*buckets {
		return
	}
	for _, s := range ss {
		if s.Latency > c.Latency {
			o.SlowLo++
		}
	}
	o.SlowHi, o.HasSlow = o.SlowLo, true
}
