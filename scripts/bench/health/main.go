// Command health benchmarks pmguard health against what a user would write
// instead, side by side in one run, on loopback:
//
//	verdict  time from an endpoint turning healthy to each tool's verdict,
//	         pmguard vs `until curl ...; do sleep I; done` vs `curl --retry`
//	scale    1,000 endpoints in one invocation: wall time and peak RSS,
//	         pmguard vs `xargs -P 100 curl`
//
// It prints Markdown tables. Run it through run.sh, which builds the binary
// and adds the cold-start and binary-size figures.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	pmguard := flag.String("pmguard", "pmguard", "the pmguard binary to measure")
	what := flag.String("what", "all", "verdict, scale or all")
	runs := flag.Int("runs", 10, "verdict: runs per latency")
	interval := flag.Duration("interval", time.Second, "verdict: interval between attempts (whole seconds, for curl --retry-delay)")
	latencies := flag.String("latency", "0s,300ms", "verdict: server answer times to try, comma-separated")
	endpoints := flag.Int("endpoints", 1000, "scale: endpoints in one invocation")
	reps := flag.Int("reps", 3, "scale: repetitions per contender")
	flag.Parse()
	log.SetFlags(0)

	if *what == "verdict" || *what == "all" {
		for _, l := range strings.Split(*latencies, ",") {
			lat, err := time.ParseDuration(strings.TrimSpace(l))
			if err != nil {
				log.Fatal(err)
			}
			verdict(*pmguard, *runs, *interval, lat)
		}
	}
	if *what == "scale" || *what == "all" {
		scale(*pmguard, *endpoints, *reps)
	}
}

// ---- time to verdict ------------------------------------------------------

// flip answers 503 until at, then 200, each answer after latency.
type flip struct {
	at      time.Time
	latency time.Duration
}

func (f flip) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	time.Sleep(f.latency) // the service's own answer time
	if time.Now().Before(f.at) {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

type contender struct {
	name string
	cmd  func(url string, interval time.Duration) *exec.Cmd
}

func verdictContenders(pmguard string) []contender {
	return []contender{
		{"pmguard health", func(url string, i time.Duration) *exec.Cmd {
			return exec.Command(pmguard, "health", "--endpoint", url, "--interval", i.String(), "--retries", "100000", "--timeout", "5s")
		}},
		{"until curl; sleep I", func(url string, i time.Duration) *exec.Cmd {
			return exec.Command("bash", "-c", `until curl -fsS -o /dev/null "$0"; do sleep `+secs(i)+`; done`, url)
		}},
		{"curl --retry --retry-delay I", func(url string, i time.Duration) *exec.Cmd {
			return exec.Command("curl", "-fsS", "-o", "/dev/null", "--retry", "100000", "--retry-delay", secs(i), "--retry-all-errors", url)
		}},
	}
}

func secs(d time.Duration) string { return fmt.Sprint(int(d.Round(time.Second) / time.Second)) }

func verdict(pmguard string, runs int, interval, latency time.Duration) {
	cs := verdictContenders(pmguard)
	delays := make([][]time.Duration, len(cs))
	for r := 0; r < runs; r++ {
		// The endpoint turns healthy at T, at a random phase of the interval.
		start := time.Now()
		at := start.Add(1500*time.Millisecond + rand.N(interval))
		var wg sync.WaitGroup
		for i, c := range cs {
			url, stop := listen(flip{at: at, latency: latency})
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer stop()
				cmd := c.cmd(url+"/health", interval)
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = io.Discard, &out
				if err := cmd.Run(); err != nil {
					log.Fatalf("%s: %v\n%s", c.name, err, out.String())
				}
				delays[i] = append(delays[i], time.Since(at))
			}()
		}
		wg.Wait()
	}
	fmt.Printf("\n### Time to verdict: interval %s, answers take %s, %d runs\n\n", interval, latency, runs)
	fmt.Printf("Verdict time minus the moment T the endpoint turned healthy (goal: pmguard <= interval + 100 ms = %s).\n\n", interval+100*time.Millisecond)
	fmt.Println("| tool | median | p90 | max | runs within interval + 100 ms |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for i, c := range cs {
		d := delays[i]
		sort.Slice(d, func(a, b int) bool { return d[a] < d[b] })
		within := 0
		for _, x := range d {
			if x <= interval+100*time.Millisecond {
				within++
			}
		}
		fmt.Printf("| %s | %s | %s | %s | %d/%d |\n", c.name, ms(d[len(d)/2]), ms(d[(len(d)*9)/10-boolInt(len(d) >= 10)]), ms(d[len(d)-1]), within, len(d))
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ms(d time.Duration) string { return fmt.Sprintf("%d ms", d.Milliseconds()) }

// listen serves h on a fresh loopback port.
func listen(h http.Handler) (url string, stop func()) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: h, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(ln)
	return "http://" + ln.Addr().String(), func() { srv.Shutdown(context.Background()) }
}

// ---- 1,000 endpoints ------------------------------------------------------

func scale(pmguard string, n, reps int) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"status":"ok"}`) })

	// One service with n health paths, and n services on n ports.
	oneURL, stopOne := listen(ok)
	defer stopOne()
	var onePort, manyPorts []string
	for i := 0; i < n; i++ {
		onePort = append(onePort, fmt.Sprintf("%s/svc/%d/health", oneURL, i))
		u, stop := listen(ok)
		defer stop()
		manyPorts = append(manyPorts, u+"/health")
	}
	fmt.Printf("\n### %d endpoints in one invocation, %d repetitions\n\n", n, reps)
	fmt.Println("Wall time from start to exit, and peak RSS (ru_maxrss of the process, and of its largest child for xargs).")
	fmt.Println("Goal for pmguard: under 2 s and under 100 MB.")
	fmt.Println()
	fmt.Println("| endpoints on | tool | median wall | max wall | median peak RSS | max peak RSS |")
	fmt.Println("|---|---|---:|---:|---:|---:|")
	for _, set := range []struct {
		name string
		urls []string
	}{{"1 host, " + fmt.Sprint(n) + " paths", onePort}, {fmt.Sprint(n) + " ports", manyPorts}} {
		list := strings.Join(set.urls, "\n")
		tools := []struct {
			name string
			cmd  func() *exec.Cmd
		}{
			{"pmguard health", func() *exec.Cmd {
				c := exec.Command(pmguard, "health", "--retries", "0", "--timeout", "10s")
				c.Env = append(os.Environ(), "PMGUARD_HEALTH_ENDPOINTS="+list)
				return c
			}},
			{"xargs -P 100 curl -fsS", func() *exec.Cmd {
				c := exec.Command("xargs", "-P", "100", "-n", "1", "curl", "-fsS", "-o", "/dev/null", "--max-time", "10")
				c.Stdin = strings.NewReader(list + "\n")
				return c
			}},
		}
		for _, tool := range tools {
			var walls []time.Duration
			var rss []int64
			for r := 0; r < reps; r++ {
				cmd := tool.cmd()
				var errOut bytes.Buffer
				stdout := &countWriter{}
				cmd.Stdout, cmd.Stderr = stdout, &errOut // a pipe, as in a CI job
				t0 := time.Now()
				if err := cmd.Run(); err != nil {
					log.Fatalf("%s: %v\n%s", tool.name, err, errOut.String())
				}
				walls = append(walls, time.Since(t0))
				rss = append(rss, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss) // KiB
			}
			sort.Slice(walls, func(a, b int) bool { return walls[a] < walls[b] })
			sort.Slice(rss, func(a, b int) bool { return rss[a] < rss[b] })
			fmt.Printf("| %s | %s | %s | %s | %.1f MB | %.1f MB |\n", set.name, tool.name, ms(walls[len(walls)/2]), ms(walls[len(walls)-1]),
				float64(rss[len(rss)/2])/1024, float64(rss[len(rss)-1])/1024)
		}
	}
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }
