// Command steps compares a progressive rollout 10% → 50% → 100% judged by
// pmguard step by step with the same rollout on a fixed 5-minute wait per
// step, on the same simulated traffic:
//
//   - pmguard: each step a fresh judge of internal/canary with the step
//     criteria pmguard canary --steps uses (Criteria.PerStep: alpha 1% split
//     over the 3 steps), threshold 2%, beta 5%, min_samples 100,
//     max_duration 5m per step (-max-duration), on_inconclusive fail; the first failing step
//     ends the rollout (rolled back);
//   - fixed 5m wait: wait 5 minutes at each weight, then look once: roll
//     back when that step's error rate is 2% or more.
//
// Traffic: 10 requests a second at every step, each failing independently
// with the step's error rate; both policies see the same requests. Time is
// the rollout's total analysis time (set_weight and pause excluded: both
// policies pay them alike).
//
// With -pmguard BIN it also runs one real rollout with that binary at the
// same rate against a loopback canary failing every 200th request (0.5%),
// set_weight writing the weight to a file, and prints its wall-clock time.
//
//	go run ./scripts/bench/canary/steps -runs 10000
//	go build -o /tmp/pmguard ./cmd/pmguard && go run ./scripts/bench/canary/steps -runs 0 -pmguard /tmp/pmguard
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/pmguard/pmguard/internal/canary"
)

const (
	rate      = 10 // requests a second
	threshold = 0.02
	waitSecs  = 300 // the fixed wait per step
)

// maxSecs is pmguard's max_duration per step, in seconds (-max-duration).
var maxSecs = 300

var weights = []int{10, 50, 100}

type outcome struct {
	rolledBack   bool
	inconclusive bool // rolled back because undecided by max_duration
	atStep       int  // the step that ended the rollout (1-based); len(weights) when promoted
	secs         float64
}

func main() {
	runs := flag.Int("runs", 10000, "simulated rollouts per scenario")
	seed := flag.Uint64("seed", 2026, "random seed")
	maxDur := flag.Duration("max-duration", 5*time.Minute, "pmguard's max_duration per step")
	bin := flag.String("pmguard", "", "also run one real rollout with this pmguard binary")
	flag.Parse()
	maxSecs = int(maxDur.Seconds())
	if *bin != "" {
		live(*bin, *maxDur)
	}
	if *runs == 0 {
		return
	}

	scenarios := []struct {
		name  string
		rates []float64 // the canary's error rate at each weight
	}{
		{"healthy 0.5% at every weight", []float64{0.005, 0.005, 0.005}},
		{"healthy 1% at every weight", []float64{0.01, 0.01, 0.01}},
		{"5% errors from 50% on", []float64{0.01, 0.05, 0.05}},
		{"20% errors at 100% only", []float64{0.01, 0.01, 0.20}},
		{"5% errors at every weight", []float64{0.05, 0.05, 0.05}},
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "scenario\tpolicy\trolled back\tof which undecided\tat step (median)\tmedian s\tp90 s\tp99 s\t\n")
	for si, sc := range scenarios {
		r := rand.New(rand.NewPCG(*seed, uint64(si)))
		res := map[string][]outcome{}
		for range *runs {
			traffic := make([][]bool, len(weights))
			for i, p := range sc.rates {
				traffic[i] = make([]bool, max(maxSecs, waitSecs)*rate)
				for k := range traffic[i] {
					traffic[i][k] = r.Float64() < p
				}
			}
			res["pmguard steps"] = append(res["pmguard steps"], judged(traffic))
			res["fixed 5m per step"] = append(res["fixed 5m per step"], fixedWait(traffic))
		}
		for _, name := range []string{"pmguard steps", "fixed 5m per step"} {
			o := res[name]
			rb, inc := 0, 0
			var secs []float64
			var steps []int
			for _, x := range o {
				if x.rolledBack {
					rb++
				}
				if x.inconclusive {
					inc++
				}
				secs = append(secs, x.secs)
				steps = append(steps, x.atStep)
			}
			sort.Float64s(secs)
			sort.Ints(steps)
			fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%.2f%%\t%d\t%.0f\t%.0f\t%.0f\t\n", sc.name, name, 100*float64(rb)/float64(len(o)), 100*float64(inc)/float64(len(o)),
				steps[len(steps)/2], secs[len(secs)/2], secs[len(secs)*9/10], secs[len(secs)*99/100])
		}
	}
	w.Flush()
	fmt.Printf("\n%d rollouts per scenario, steps %v, %d requests/s, threshold %.0f%%, alpha 1%% over the rollout, max_duration %s per step, seed %d.\n",
		*runs, weights, rate, threshold*100, *maxDur, *seed)
}

// judged runs each step's requests through a fresh judge in 100 ms batches,
// timing each verdict by the request that decided it.
func judged(traffic [][]bool) outcome {
	// RunCap is what pmguard's default stall_allowance (1 s) gives at this rate.
	c := canary.Criteria{ErrorThreshold: threshold, Quantile: 0.95, Alpha: 0.01, Beta: 0.05, MinSamples: 100, PerRequest: true, RunCap: rate}.PerStep(len(weights))
	total := 0.0
	for step, errs := range traffic {
		j := canary.NewJudge(c)
		batch := make([]canary.Sample, rate/10)
		state := canary.Running
		for i := 0; i+len(batch) <= maxSecs*rate && state == canary.Running; i += len(batch) {
			for k := range batch {
				batch[k] = canary.Sample{Err: errs[i+k], Kind: "status 500"}
			}
			state = j.Add(canary.Batch{Canary: canary.Obs{Samples: batch}})
		}
		if state == canary.Running {
			state = j.Finish("") // max_duration: inconclusive, and on_inconclusive fail
		}
		total += j.Evidence().Samples / rate
		if state != canary.Passed {
			return outcome{rolledBack: true, inconclusive: state == canary.Inconclusive, atStep: step + 1, secs: total}
		}
	}
	return outcome{atStep: len(weights), secs: total}
}

func fixedWait(traffic [][]bool) outcome {
	for step, errs := range traffic {
		errs = errs[:waitSecs*rate]
		e := 0
		for _, x := range errs {
			if x {
				e++
			}
		}
		if float64(e)/float64(len(errs)) >= threshold {
			return outcome{rolledBack: true, atStep: step + 1, secs: float64((step + 1) * waitSecs)}
		}
	}
	return outcome{atStep: len(weights), secs: float64(len(weights) * waitSecs)}
}

// live runs one rollout with the pmguard binary on loopback and prints its
// total time and each step's line.
func live(bin string, maxDur time.Duration) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%200 == 0 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	dir, err := os.MkdirTemp("", "pmguard-steps-bench-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command(bin, "canary", "--url", srv.URL, "--rate", strconv.Itoa(rate), "--steps", "10,50,100",
		"--set-weight", "echo $PMGUARD_WEIGHT > "+filepath.Join(dir, "weight"), "--max-duration", maxDur.String(),
		"--deploy-markers", "off", "--json", filepath.Join(dir, "report.json"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err = cmd.Run()
	el := time.Since(start)
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.Contains(line, "step ") && (strings.Contains(line, "PASS") || strings.Contains(line, "FAIL") || strings.Contains(line, "INCONCLUSIVE")) {
			fmt.Println(strings.TrimSpace(line))
		}
	}
	fmt.Printf("pmguard canary --steps 10,50,100 at %d req/s on loopback (0.5%% errors): %s wall clock (exit %v); a fixed 5-minute wait per step: 15m0s\n\n", rate, el.Round(100*time.Millisecond), err)
}
