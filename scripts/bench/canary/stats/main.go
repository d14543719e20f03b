// Command stats measures the canary judge's error rates and times to verdict
// on simulated traffic whose samples are not independent: stalls (which the
// probe, timing each request from its scheduled send, sees as a run of slow
// requests), periodic GC pauses, bursts of errors; canaries at, below and
// above the latency percentile; comparisons with a baseline; and metric
// sources that report one interval at a time.
//
//	go run ./scripts/bench/canary/stats -runs 5000
//
// Traffic: 10 requests a second, judged one request at a time (the probe's
// order). Defaults: threshold 2%, healthy 1%, alpha 1%, beta 5%,
// min_samples 100, max_duration 10m, on_inconclusive fail.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pmguard/pmguard/internal/canary"
)

const rate = 10 // requests a second

var (
	runs    = flag.Int("runs", 5000, "simulated canaries per row")
	seed    = flag.Uint64("seed", 2026, "random seed")
	maxSecs = flag.Int("max-secs", 600, "max_duration in seconds")
	only    = flag.String("only", "", "run only the tables whose name contains this")
	buckets = flag.Bool("buckets", true, "metric sources: give histogram bucket counts (false: only the interval's percentile)")
	stallS  = flag.Float64("stall-allowance", 1, "probe: stall_allowance in seconds (0: every request counts as independent)")
)

// Latencies: a request is fast (50 ms) or, with the row's slow share, slow
// (400 ms); the latency threshold is 300 ms.
const (
	fast      = 50 * time.Millisecond
	slowLat   = 400 * time.Millisecond
	latThresh = 300 * time.Millisecond
)

// traffic describes one simulated canary (or baseline).
type traffic struct {
	errRate, slowShare float64
	// pattern adds dependence: it may overwrite sample i given the run's
	// random offset.
	pattern func(i, off int, s *canary.Sample)
}

func (t traffic) gen(r *rand.Rand, n int) []canary.Sample {
	off := r.IntN(90)
	out := make([]canary.Sample, n)
	for i := range out {
		s := canary.Sample{Latency: fast, HasLatency: true}
		if r.Float64() < t.slowShare {
			s.Latency = slowLat
		}
		if r.Float64() < t.errRate {
			s.Err, s.Kind = true, "status 500"
		}
		if t.pattern != nil {
			t.pattern(i, off, &s)
		}
		out[i] = s
	}
	return out
}

// stall models a server that stops for d starting at request `at`: every
// request scheduled during the stall completes when it ends, and the
// probe's latency runs from the scheduled send.
func stall(at int, d time.Duration, i int, s *canary.Sample) {
	per := time.Second / rate
	start := time.Duration(at) * per
	t := time.Duration(i) * per
	if t >= start && t < start+d {
		s.Latency = start + d - t + fast
	}
}

var patterns = []struct {
	name string
	p    func(i, off int, s *canary.Sample)
}{
	{"independent", nil},
	{"one 1 s stall in the first 100 requests", func(i, off int, s *canary.Sample) { stall(off, time.Second, i, s) }},
	{"GC pause 300 ms every 10 s", func(i, off int, s *canary.Sample) {
		stall((i/(10*rate))*(10*rate)+off%(10*rate), 300*time.Millisecond, i, s)
	}},
	{"10 slow in a row in the first 100", func(i, off int, s *canary.Sample) {
		if i >= off && i < off+10 {
			s.Latency = slowLat
		}
	}},
	{"burst of 5 errors in the first 100", func(i, off int, s *canary.Sample) {
		if i >= off && i < off+5 {
			s.Err, s.Kind = true, "status 500"
		}
	}},
	{"3 errors in a row at the start", func(i, off int, s *canary.Sample) {
		if i < 3 {
			s.Err, s.Kind = true, "status 500"
		}
	}},
	{"a burst of 5 errors every 30 s", func(i, off int, s *canary.Sample) {
		if k := (i - off) % (30 * rate); i >= off && k < 5 {
			s.Err, s.Kind = true, "status 500"
		}
	}},
	{"2 errors in a row in the first 100", func(i, off int, s *canary.Sample) {
		if i >= off && i < off+2 {
			s.Err, s.Kind = true, "status 500"
		}
	}},
	{"a pair of errors every 30 s", func(i, off int, s *canary.Sample) {
		if k := (i - off) % (30 * rate); i >= off && k < 2 {
			s.Err, s.Kind = true, "status 500"
		}
	}},
}

type outcome struct {
	state canary.State
	secs  float64
}

// probeRun judges one canary (and baseline) request by request.
func probeRun(c canary.Criteria, r *rand.Rand, can traffic, base *traffic) outcome {
	n := *maxSecs * rate
	cs := can.gen(r, n)
	var bs []canary.Sample
	if base != nil {
		bs = base.gen(r, n)
	}
	j := canary.NewJudge(c)
	for i := range n {
		b := canary.Batch{Canary: canary.Obs{Samples: cs[i : i+1]}}
		if bs != nil {
			b.Baseline = &canary.Obs{Samples: bs[i : i+1]}
		}
		if st := j.Add(b); st != canary.Running {
			return outcome{st, j.Evidence().Samples / rate}
		}
	}
	return outcome{j.Finish(""), float64(*maxSecs)}
}

type row struct {
	label string
	outs  []outcome
}

func (r row) cells() []string {
	f, inc := 0, 0
	var secs []float64
	for _, o := range r.outs {
		switch o.state {
		case canary.Failed:
			f++
		case canary.Inconclusive:
			inc++
		}
		secs = append(secs, o.secs)
	}
	sort.Float64s(secs)
	n := float64(len(r.outs))
	return []string{r.label, pc(float64(f) / n), pc(float64(inc) / n), pc(float64(f+inc) / n),
		fmt.Sprintf("%.1f", secs[len(secs)/2]), fmt.Sprintf("%.1f", secs[len(secs)*9/10])}
}

func pc(f float64) string { return fmt.Sprintf("%.2f%%", 100*f) }

func table(name string, rows []row) {
	if *only != "" && !strings.Contains(name, *only) {
		return
	}
	fmt.Printf("\n### %s\n\n", name)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 1, ' ', 0)
	fmt.Fprintln(w, "| canary\t| failed\t| inconclusive\t| rolled back\t| median s\t| p90 s\t|")
	fmt.Fprintln(w, "| ---\t| ---\t| ---\t| ---\t| ---\t| ---\t|")
	for _, r := range rows {
		fmt.Fprintf(w, "| %s\t|\n", strings.Join(r.cells(), "\t| "))
	}
	w.Flush()
}

func many(key uint64, f func(r *rand.Rand) outcome) []outcome {
	r := rand.New(rand.NewPCG(*seed, key))
	out := make([]outcome, *runs)
	for k := range out {
		out[k] = f(r)
	}
	return out
}

func base() canary.Criteria {
	return canary.Criteria{ErrorThreshold: 0.02, Quantile: 0.95, Alpha: 0.01, Beta: 0.05, MinSamples: 100, PerRequest: true, Margin: 0.5, RunCap: int(math.Ceil(rate * *stallS))}
}

func main() {
	flag.Parse()
	want := func(name string) bool { return *only == "" || strings.Contains(name, *only) }

	if n := "dependence"; want(n) {
		// Healthy: 1% errors (the healthy rate), 2.5% slower than the
		// threshold (half what p95 allows), p95 check.
		c := base()
		c.Latency = latThresh
		var rows []row
		for k, p := range patterns {
			t := traffic{errRate: 0.01, slowShare: 0.025, pattern: p.p}
			rows = append(rows, row{p.name, many(uint64(100+k), func(r *rand.Rand) outcome { return probeRun(c, r, t, nil) })})
		}
		table("dependence: healthy canary (1% errors, 2.5% slower than the p95 threshold), p95 check", rows)
	}
	if n := "error rate"; want(n) {
		c := base()
		var rows []row
		for k, p := range []float64{0.01, 0.02, 0.05, 0.20} {
			t := traffic{errRate: p}
			rows = append(rows, row{fmt.Sprintf("%.0f%% errors", 100*p), many(uint64(200+k), func(r *rand.Rand) outcome { return probeRun(c, r, t, nil) })})
		}
		table("error rate: independent errors, error check only", rows)
	}
	if n := "runs everywhere"; want(n) {
		// Failing canaries whose errors (or slow requests) all come in
		// runs: round robin over pods of which some are down (or slow),
		// the pattern repeating request by request.
		var rows []row
		for k, x := range []struct {
			label string
			every string // E: bad, G: good
			slow  bool
		}{
			{"2 of 3 pods failing (E E G ...): 67% errors", "EEG", false},
			{"2 of 4 pods failing (E E G G ...): 50% errors", "EEGG", false},
			{"3 of 4 pods failing (E E E G ...): 75% errors", "EEEG", false},
			{"2 of 3 pods slow (S S G ...), p95 check", "EEG", true},
		} {
			c := base()
			if x.slow {
				c.Latency = latThresh
			}
			t := traffic{pattern: func(i, _ int, s *canary.Sample) {
				if x.every[i%len(x.every)] != 'E' {
					return
				}
				if x.slow {
					s.Latency = slowLat
				} else {
					s.Err, s.Kind = true, "status 503"
				}
			}}
			rows = append(rows, row{x.label, many(uint64(250+k), func(r *rand.Rand) outcome { return probeRun(c, r, t, nil) })})
		}
		table("runs everywhere: failing canaries whose bad requests all come in runs", rows)
	}
	if n := "latency"; want(n) {
		var rows []row
		for k, q := range []struct {
			q      float64
			shares []float64
		}{{0.95, []float64{0.025, 0.045, 0.05, 0.075, 0.10, 0.20}}, {0.99, []float64{0.005, 0.01, 0.02, 0.05}}} {
			c := base()
			c.Latency, c.Quantile = latThresh, q.q
			for m, s := range q.shares {
				t := traffic{slowShare: s}
				label := fmt.Sprintf("p%.0f check, %.1f%% slower than the threshold", 100*q.q, 100*s)
				rows = append(rows, row{label, many(uint64(300+10*k+m), func(r *rand.Rand) outcome { return probeRun(c, r, t, nil) })})
			}
		}
		table("latency: canaries at, below and above the percentile (no errors)", rows)
	}
	if n := "baseline"; want(n) {
		c := base()
		c.Baseline = true
		var rows []row
		for k, x := range []struct {
			label string
			can   traffic
			bl    traffic
		}{
			{"canary 1% = baseline 1% errors", traffic{errRate: 0.01}, traffic{errRate: 0.01}},
			{"canary 0.5%, baseline 0% errors (zero-error baseline)", traffic{errRate: 0.005}, traffic{}},
			{"canary 1%, baseline 0% errors (zero-error baseline)", traffic{errRate: 0.01}, traffic{}},
			{"canary 1.5% vs baseline 0.5% errors (3x)", traffic{errRate: 0.015}, traffic{errRate: 0.005}},
			{"canary 5% vs baseline 1% errors", traffic{errRate: 0.05}, traffic{errRate: 0.01}},
			{"latency: both 2% slow", traffic{slowShare: 0.02}, traffic{slowShare: 0.02}},
			{"latency: canary 20% slow vs baseline 2% (p95 400 ms vs 50 ms)", traffic{slowShare: 0.20}, traffic{slowShare: 0.02}},
		} {
			rows = append(rows, row{x.label, many(uint64(400+k), func(r *rand.Rand) outcome { return probeRun(c, r, x.can, &x.bl) })})
		}
		table("baseline: probe with baseline_url, margin 50%", rows)
	}
	if n := "baseline miss"; want(n) {
		// A canary exactly at the error comparison's H1: 1.5 times the
		// baseline's rate and 1.5 times its own healthy rate. The error
		// threshold is out of the way (10%), so the comparison decides the
		// pass: passed (100% - rolled back) is its miss rate, held to beta.
		c := base()
		c.Baseline, c.ErrorThreshold, c.HealthyRate = true, 0.10, 0.01
		var rows []row
		for k, x := range []struct {
			label    string
			can, blr float64
		}{
			{"canary 1.5% vs baseline 1% errors (H1 of both tests)", 0.015, 0.01},
			{"canary 3% vs baseline 2% errors (H1 of both tests)", 0.03, 0.02},
		} {
			can, bl := traffic{errRate: x.can}, traffic{errRate: x.blr}
			rows = append(rows, row{x.label, many(uint64(450+k), func(r *rand.Rand) outcome { return probeRun(c, r, can, &bl) })})
		}
		table("baseline miss: error comparison at its H1 (healthy 1%, threshold 10%); passed = missed", rows)
	}
	if n := "cost"; want(n) {
		var rows []row
		type cfg struct {
			label string
			c     canary.Criteria
		}
		e := base()
		p99 := base()
		p99.Latency, p99.Quantile = latThresh, 0.99
		bl := base()
		bl.Baseline = true
		var cfgs = []cfg{{"error check only", e}, {"error + p99 latency, 0.5% slow", p99}, {"error + p99 latency, 1% slow (at p99)", p99}, {"error + baseline", bl}}
		for k, x := range cfgs {
			t := traffic{errRate: 0.01, slowShare: 0.005}
			if strings.Contains(x.label, "1% slow") {
				t.slowShare = 0.01
			}
			var b *traffic
			if x.c.Baseline {
				b = &t
			}
			outs := many(uint64(500+k), func(r *rand.Rand) outcome { return probeRun(x.c, r, t, b) })
			mean := 0.0
			for _, o := range outs {
				mean += o.secs * rate
			}
			mean /= float64(len(outs))
			j := canary.NewJudge(x.c)
			rows = append(rows, row{fmt.Sprintf("%s: estimate %.0f requests, simulated mean %.0f", x.label, j.ExpectedToPass(), mean), outs})
		}
		table("cost: healthy canary (1% errors) - start-up estimate vs simulation", rows)
	}
	if n := "metric"; want(n) {
		metricTables()
	}
	fmt.Printf("\n%d canaries per row, %d requests/s, seed %d, max_duration %ds; rolled back = failed + inconclusive (on_inconclusive fail).\n", *runs, rate, *seed, *maxSecs)
}
