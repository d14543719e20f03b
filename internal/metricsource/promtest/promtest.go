// Package promtest starts a real Prometheus server (the Debian package
// prometheus) on loopback for tests, and an instrumented service whose
// stable and canary tracks have set error rates and latencies.
//
// A test that needs Prometheus fails when the binary is missing and env CI is
// set, and is skipped otherwise.
package promtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary returns the path of the prometheus binary. Without it the test
// fails when CI is set and is skipped otherwise.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("prometheus")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("prometheus is not installed (Debian package prometheus): %v", err)
		}
		t.Skip("prometheus is not installed (Debian package prometheus); with CI set this test fails instead")
	}
	return path
}

// Options configures a Prometheus server.
type Options struct {
	// Targets are host:port addresses scraped at /metrics.
	Targets []string
	// ScrapeInterval defaults to 500ms.
	ScrapeInterval time.Duration
	// Timeout bounds every wait (start, Await); default 30s.
	Timeout time.Duration
}

// Server is a running Prometheus. Note that Prometheus applies its scrape
// targets up to 5 s after start, so the first samples take that long.
type Server struct {
	URL     string
	Options Options
	t       testing.TB
	log     *lockedBuffer
	done    chan struct{}
}

// Start runs Prometheus on a free loopback port with its storage in a
// temporary directory, and stops it in t.Cleanup.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := Binary(t)
	if o.ScrapeInterval <= 0 {
		o.ScrapeInterval = 500 * time.Millisecond
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(conf, []byte(config(o)), 0o600); err != nil {
		t.Fatal(err)
	}
	// Picking a free port then handing it over can race with another
	// process; a server that exits at once is retried on a new port.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		s, err := start(t, bin, conf, filepath.Join(dir, fmt.Sprintf("data%d", attempt)), o)
		if err == nil {
			return s
		}
		lastErr = err
	}
	t.Fatalf("prometheus did not start: %v", lastErr)
	return nil
}

func config(o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: 10s\n", o.ScrapeInterval, o.ScrapeInterval)
	b.WriteString("scrape_configs:\n  - job_name: service\n    static_configs:\n      - targets: [")
	for i, tg := range o.Targets {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(tg))
	}
	b.WriteString("]\n")
	return b.String()
}

func start(t testing.TB, bin, conf, data string, o Options) (*Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	log := &lockedBuffer{}
	cmd := exec.Command(bin,
		"--config.file="+conf,
		"--storage.tsdb.path="+data,
		"--storage.tsdb.retention.time=1h",
		"--web.listen-address="+addr,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{URL: "http://" + addr, Options: o, t: t, log: log, done: make(chan struct{})}
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(s.done) }()
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-s.done
		}
	}
	deadline := time.Now().Add(o.Timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	probe := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := probe.Get(s.URL + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-s.done:
			return nil, fmt.Errorf("prometheus exited (%v): %s", waitErr, log.String())
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("prometheus not ready after %v: %s", o.Timeout, log.String())
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	return s, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// Sample is one series' value from an instant query.
type Sample struct {
	Labels map[string]string
	Time   time.Time
	Value  float64
}

// Query runs an instant query now. It is deliberately independent of the
// client under test.
func (s *Server) Query(ctx context.Context, query string) ([]Sample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/query?"+url.Values{"query": {query}}.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: %s", query, r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("query %s: result type %s, want vector", query, r.Data.ResultType)
	}
	var out []Sample
	for _, e := range r.Data.Result {
		ts, _ := e.Value[0].(float64)
		vs, _ := e.Value[1].(string)
		v, err := strconv.ParseFloat(vs, 64)
		if err != nil {
			return nil, fmt.Errorf("query %s: value %v", query, e.Value[1])
		}
		out = append(out, Sample{Labels: e.Metric, Time: time.UnixMilli(int64(math.Round(ts * 1000))), Value: v})
	}
	return out, nil
}

// Await polls query until ok accepts its result, failing the test after
// Options.Timeout. It returns the accepted result.
func (s *Server) Await(t testing.TB, what, query string, ok func([]Sample) bool) []Sample {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.Options.Timeout)
	defer cancel()
	tick := time.NewTicker(s.Options.ScrapeInterval / 4)
	defer tick.Stop()
	var last []Sample
	var lastErr error
	for {
		res, err := s.Query(ctx, query)
		if err == nil && ok(res) {
			return res
		}
		last, lastErr = res, err
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %s gave %v (err %v) after %v", what, query, last, lastErr, s.Options.Timeout)
		case <-s.done:
			t.Fatalf("waiting for %s: prometheus exited: %s", what, s.log.String())
		case <-tick.C:
		}
	}
}

// LastScrape returns the newest sample time of the series query selects; an
// instant query evaluated exactly then sees no extrapolation past the data.
func (s *Server) LastScrape(t testing.TB, selector string) time.Time {
	t.Helper()
	res := s.Await(t, "a sample of "+selector, "max(timestamp("+selector+"))", func(r []Sample) bool { return len(r) == 1 })
	return time.UnixMilli(int64(math.Round(res[0].Value * 1000)))
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	if len(s) > 8000 {
		s = "..." + s[len(s)-8000:]
	}
	return s
}
