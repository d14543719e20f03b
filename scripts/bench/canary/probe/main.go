// Command probe measures pmguard's canary probe against hey on loopback, in
// one run:
//
//  1. accuracy: a server that stalls for 100 ms once a second (every request
//     arriving in the first 100 ms of each second waits for the stall to
//     end). Sent at a steady rate, 10% of requests arrive in a stall and
//     wait 0-100 ms, so the true p99 is about 90 ms. An open-loop probe
//     reports that; a closed-loop tool, whose workers sit out the stall
//     instead of sending, reports a p99 that hides it.
//
//  2. throughput: the same server without stalls, as fast as each tool goes
//     with 50 requests in flight.
//
//     go build -o /tmp/pmguard ./cmd/pmguard
//     go run ./scripts/bench/canary/probe -pmguard /tmp/pmguard
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"
)

func main() {
	bin := flag.String("pmguard", "pmguard", "the pmguard binary")
	hey := flag.String("hey", "hey", "the hey binary (Debian package hey)")
	dur := flag.Duration("duration", 10*time.Second, "length of each measurement")
	rate := flag.Int("rate", 200, "requests a second for the accuracy runs")
	repeat := flag.Int("repeat", 3, "throughput runs per tool")
	flag.Parse()

	stall := serve(true)
	fast := serve(false)
	dir, err := os.MkdirTemp("", "pmguard-probe-bench-")
	check(err)
	defer os.RemoveAll(dir)

	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "run\ttool\trequests/s\tp99 ms\t\n")

	// Accuracy: the same offered rate for both tools.
	pg := runPmguard(*bin, dir, stall+"/", *rate, 10, *dur)
	fmt.Fprintf(w, "stall 100ms/s, %d req/s\tpmguard probe (open loop)\t%.0f\t%.1f\t\n", *rate, pg.rps, pg.p99)
	workers := 10
	h := runHey(*hey, stall+"/", workers, float64(*rate)/float64(workers), *dur)
	fmt.Fprintf(w, "stall 100ms/s, %d req/s\they -c %d -q %d\t%.0f\t%.1f\t\n", *rate, workers, *rate/workers, h.rps, h.p99)
	for _, c := range []int{50, 10} {
		h = runHey(*hey, stall+"/", c, 0, *dur)
		fmt.Fprintf(w, "stall 100ms/s, unthrottled\they -c %d\t%.0f\t%.1f\t\n", c, h.rps, h.p99)
	}

	// Throughput: flat out with 50 in flight, the tools taking turns so
	// that load from elsewhere on the machine hits both alike.
	var pgRPS, heyRPS []float64
	for i := range *repeat {
		pg = runPmguard(*bin, dir, fast+"/", 100000, 50, *dur)
		fmt.Fprintf(w, "no stall, 50 in flight #%d\tpmguard probe --rate 100000\t%.0f\t%.1f\t\n", i+1, pg.rps, pg.p99)
		h = runHey(*hey, fast+"/", 50, 0, *dur)
		fmt.Fprintf(w, "no stall, 50 in flight #%d\they -c 50\t%.0f\t%.1f\t\n", i+1, h.rps, h.p99)
		pgRPS, heyRPS = append(pgRPS, pg.rps), append(heyRPS, h.rps)
	}
	fmt.Fprintf(w, "no stall, median of %d\tpmguard probe\t%.0f\t\t\n", *repeat, median(pgRPS))
	fmt.Fprintf(w, "no stall, median of %d\they -c 50\t%.0f\t\t\n", *repeat, median(heyRPS))
	w.Flush()
	fmt.Printf("\nTrue p99 under the stall at a steady rate: ~90 ms (10%% of requests wait 0-100 ms). Each run %s on loopback; %d CPU cores shared by server and client.\n", *dur, numCPU())
}

type figures struct{ rps, p99 float64 }

// serve starts the test server on loopback; with stall set it holds every
// request that arrives in the first 100 ms of a second until that 100 ms ends.
func serve(stall bool) string {
	start := time.Now()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if stall {
			if phase := time.Since(start) % time.Second; phase < 100*time.Millisecond {
				time.Sleep(100*time.Millisecond - phase)
			}
		}
		w.Write([]byte("ok\n"))
	})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	go http.Serve(l, h) //nolint:errcheck // runs until exit
	return "http://" + l.Addr().String()
}

func runPmguard(bin, dir, url string, rate, conc int, dur time.Duration) figures {
	report := filepath.Join(dir, "report.json")
	cmd := exec.Command(bin, "canary", "--url", url, "--rate", strconv.Itoa(rate), "--concurrency", strconv.Itoa(conc),
		"--max-duration", dur.String(), "--min-samples", "100000000", "--latency-percentile", "p99",
		"--on-inconclusive", "pass", "--json", report)
	cmd.Stdout, cmd.Stderr = nil, os.Stderr
	check(cmd.Run())
	b, err := os.ReadFile(report)
	check(err)
	var r struct {
		Samples   float64 `json:"samples"`
		ElapsedS  float64 `json:"elapsed_s"`
		LatencyMS float64 `json:"latency_ms"`
		Verdict   string  `json:"verdict"`
	}
	check(json.Unmarshal(b, &r))
	return figures{rps: r.Samples / r.ElapsedS, p99: r.LatencyMS}
}

var (
	heyRPS = regexp.MustCompile(`Requests/sec:\s+([0-9.]+)`)
	heyP99 = regexp.MustCompile(`99% in ([0-9.]+) secs`)
)

func runHey(bin, url string, conc int, qps float64, dur time.Duration) figures {
	args := []string{"-z", dur.String(), "-c", strconv.Itoa(conc)}
	if qps > 0 {
		args = append(args, "-q", strconv.FormatFloat(qps, 'f', -1, 64))
	}
	out, err := exec.Command(bin, append(args, url)...).Output()
	check(err)
	rps := heyRPS.FindSubmatch(out)
	p99 := heyP99.FindSubmatch(out)
	if rps == nil || p99 == nil {
		fmt.Fprintf(os.Stderr, "unexpected hey output:\n%s\n", out)
		os.Exit(1)
	}
	r, _ := strconv.ParseFloat(string(rps[1]), 64)
	p, _ := strconv.ParseFloat(string(p99[1]), 64)
	return figures{rps: r, p99: p * 1000}
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func numCPU() int {
	n, _ := strconv.Atoi(os.Getenv("NPROC"))
	if n > 0 {
		return n
	}
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ = strconv.Atoi(string(regexp.MustCompile(`\d+`).Find(out)))
	return n
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
