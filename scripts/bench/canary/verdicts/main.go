// Command verdicts compares, on the same simulated canary traffic, how fast
// and how accurately three canary policies decide:
//
//   - pmguard: the sequential judge of internal/canary (threshold 2%,
//     alpha 1%, beta 5%, max_duration 10m, on_inconclusive fail);
//   - a fixed 5-minute wait, then one look: roll back when the error rate
//     over those 5 minutes is at or above the threshold;
//   - a Flagger-style analysis: one check a minute on the last minute's
//     error rate, roll back after 5 failed checks, promote after 5 passed
//     ones (stepWeight 10, maxWeight 50).
//
// Traffic: 10 requests a second, each failing independently with the
// canary's error rate. Every policy sees the very same requests.
//
//	go run ./scripts/bench/canary/verdicts -runs 10000
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/pmguard/pmguard/internal/canary"
)

const (
	rate      = 10 // requests a second
	threshold = 0.02
)

// maxSecs is pmguard's max_duration in seconds (-max-duration).
var maxSecs = 600

type outcome struct {
	rollback bool
	secs     float64
}

func main() {
	runs := flag.Int("runs", 10000, "simulated canaries per error rate")
	seed := flag.Uint64("seed", 2026, "random seed")
	maxDur := flag.Duration("max-duration", 10*time.Minute, "pmguard's max_duration (at least 10m keeps the Flagger-style check whole)")
	flag.Parse()
	maxSecs = int(maxDur.Seconds())
	rates := []float64{0.01, 0.015, 0.02, 0.05, 0.20}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "error rate\tpolicy\trolled back\tmedian s\tp90 s\tp99 s\t\n")
	for _, p := range rates {
		r := rand.New(rand.NewPCG(*seed, uint64(p*1e6)))
		res := map[string][]outcome{}
		for range *runs {
			// One canary's requests, shared by the three policies.
			errs := make([]bool, max(maxSecs, 600)*rate)
			for i := range errs {
				errs[i] = r.Float64() < p
			}
			res["pmguard"] = append(res["pmguard"], judge(errs))
			res["fixed 5m wait"] = append(res["fixed 5m wait"], fixedWait(errs))
			res["flagger-style 1m x5"] = append(res["flagger-style 1m x5"], flagger(errs))
		}
		for _, name := range []string{"pmguard", "fixed 5m wait", "flagger-style 1m x5"} {
			o := res[name]
			rb := 0
			var secs []float64
			for _, x := range o {
				if x.rollback {
					rb++
				}
				secs = append(secs, x.secs)
			}
			sort.Float64s(secs)
			fmt.Fprintf(w, "%.1f%%\t%s\t%.2f%%\t%.1f\t%.1f\t%.1f\t\n", p*100, name, 100*float64(rb)/float64(len(o)),
				secs[len(secs)/2], secs[len(secs)*9/10], secs[len(secs)*99/100])
		}
	}
	w.Flush()
	fmt.Printf("\npmguard max_duration %s. %d canaries per error rate, %d requests/s, threshold %.0f%%, seed %d. 'rolled back' is a false rollback at 1%% and a caught regression at 5%% and 20%%.\n", *maxDur, *runs, rate, threshold*100, *seed)
}

// judge runs the canary's requests through pmguard's judge in 100 ms batches
// and times the verdict by the request that decided it.
func judge(errs []bool) outcome {
	j := canary.NewJudge(canary.Criteria{ErrorThreshold: threshold, Quantile: 0.95, Alpha: 0.01, Beta: 0.05, MinSamples: 100, PerRequest: true, RunCap: rate})
	batch := make([]canary.Sample, rate/10)
	for i := 0; i+len(batch) <= maxSecs*rate; i += len(batch) {
		for k := range batch {
			batch[k] = canary.Sample{Err: errs[i+k], Kind: "status 500"}
		}
		if s := j.Add(canary.Batch{Canary: canary.Obs{Samples: batch}}); s != canary.Running {
			return outcome{rollback: s != canary.Passed, secs: j.Evidence().Samples / rate}
		}
	}
	// Undecided at max_duration: inconclusive, and on_inconclusive fail.
	return outcome{rollback: j.Finish("") != canary.Passed, secs: float64(maxSecs)}
}

func fixedWait(errs []bool) outcome {
	n := 300 * rate
	e := 0
	for _, x := range errs[:n] {
		if x {
			e++
		}
	}
	return outcome{rollback: float64(e)/float64(n) >= threshold, secs: 300}
}

func flagger(errs []bool) outcome {
	failed, passed := 0, 0
	per := 60 * rate
	for m := 0; (m+1)*per <= len(errs); m++ {
		e := 0
		for _, x := range errs[m*per : (m+1)*per] {
			if x {
				e++
			}
		}
		if float64(e)/float64(per) >= threshold {
			failed++
		} else {
			passed++
		}
		el := float64((m + 1) * 60)
		if failed >= 5 {
			return outcome{rollback: true, secs: el}
		}
		if passed >= 5 {
			return outcome{rollback: false, secs: el}
		}
	}
	return outcome{rollback: true, secs: float64(len(errs) / rate)}
}
