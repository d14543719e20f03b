package canary

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/metricsource"
)

// CircleCI ends a step that prints nothing for no_output_timeout (10
// minutes by default); no wait of pmguard's may stay silent that long.
const quietest = 5 * time.Minute

// chunkClock is the fake clock recording each sleep and, with it, the
// output printed so far: a wait is silent from one print to the next.
type chunkClock struct {
	*fakeClock
	out    *syncWriter
	mu     sync.Mutex
	sleeps []time.Duration
	marks  []int // len(out) when each sleep started
}

func (c *chunkClock) Sleep(ctx context.Context, d time.Duration) error {
	c.out.mu.Lock()
	n := c.out.w.Len()
	c.out.mu.Unlock()
	c.mu.Lock()
	c.sleeps, c.marks = append(c.sleeps, d), append(c.marks, n)
	c.mu.Unlock()
	return c.fakeClock.Sleep(ctx, d)
}

// longestSilence is the longest time slept with no output in between.
func (c *chunkClock) longestSilence() time.Duration {
	var longest, run time.Duration
	for i, d := range c.sleeps {
		if i > 0 && c.marks[i] != c.marks[i-1] {
			run = 0
		}
		run += d
		longest = max(longest, run)
	}
	return longest
}

// TestPauseKeepsTheStepAlive: a 15-minute pause prints how long is left at
// least every 5 minutes (every minute), so CircleCI does not end the step
// for want of output.
func TestPauseKeepsTheStepAlive(t *testing.T) {
	srv := httptest.NewServer(&service{})
	t.Cleanup(srv.Close)
	o, err := load(t, nil, "--url", srv.URL, "--steps", "10,50", "--set-weight", "unused", "--pause", "15m",
		"--rate", "400", "--min-samples", "100", "--max-duration", "20s")
	if err != nil {
		t.Fatal(err)
	}
	o.SetWeightFunc = (&recorder{}).setWeight
	out := &syncWriter{w: &strings.Builder{}}
	clk := &chunkClock{fakeClock: newFakeClock(), out: out}
	dir := t.TempDir()
	if err := o.testRun(out, clk, config.Reports{JSON: dir + "/r.json"}); err != nil {
		t.Fatal(err)
	}
	var paused time.Duration
	for _, d := range clk.sleeps {
		paused += d
	}
	if paused != 15*time.Minute {
		t.Errorf("slept %s in all, want the 15m pause", paused)
	}
	if s := clk.longestSilence(); s > quietest {
		t.Errorf("the pause stayed silent for %s (sleeps %v)", s, clk.sleeps)
	}
	if !strings.Contains(out.w.String(), "pausing before step 2: 10m0s left") {
		t.Errorf("no keep-alive line:\n%s", out.w.String())
	}
}

// TestLongIntervalKeepsTheStepAlive: a metric source read every 12 minutes
// says so while it waits.
func TestLongIntervalKeepsTheStepAlive(t *testing.T) {
	p, err := load(t, nil, "--source", "prometheus", "--prometheus-url", "http://prom.test", "--canary-selector", `{track="canary"}`,
		"--max-duration", "40m", "--interval", "12m")
	if err != nil {
		t.Fatal(err)
	}
	p.Metrics = &fakeMetrics{counts: func(int, string) (metricsource.Counts, error) {
		return metricsource.Counts{Total: 30000, Errors: 3}, nil
	}}
	out := &syncWriter{w: &strings.Builder{}}
	clk := &chunkClock{fakeClock: newFakeClock(), out: out}
	dir := t.TempDir()
	if err := p.testRun(out, clk, config.Reports{JSON: dir + "/r.json"}); err != nil {
		t.Fatalf("%v\n%s", err, out.w.String())
	}
	if s := clk.longestSilence(); s > quietest {
		t.Errorf("waiting for the next read stayed silent for %s (sleeps %v)", s, clk.sleeps)
	}
	if !regexp.MustCompile(`waiting for the next prometheus read: \d+m0s left`).MatchString(out.w.String()) {
		t.Errorf("no keep-alive line:\n%s", out.w.String())
	}
}

// TestLongSetWeightKeepsTheStepAlive: a set_weight that runs long (a
// rollout controller waiting for pods) is said to be still running.
func TestLongSetWeightKeepsTheStepAlive(t *testing.T) {
	srv := httptest.NewServer(&service{})
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	env := map[string]string{"PATH": os.Getenv("PATH"), "DIR": dir}
	o, err := load(t, env, "--url", srv.URL, "--steps", "10", "--rate", "400", "--min-samples", "100", "--max-duration", "20s",
		"--set-weight", `while [ ! -e "$DIR/go" ]; do sleep 0.02; done`)
	if err != nil {
		t.Fatal(err)
	}
	o.KeepAliveEvery = 10 * time.Millisecond
	out := &syncWriter{w: &strings.Builder{}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		// set_weight finishes once pmguard said it is still running.
		defer os.WriteFile(filepath.Join(dir, "go"), nil, 0o644)
		for ctx.Err() == nil {
			out.mu.Lock()
			said := strings.Contains(out.w.String(), "canary: set_weight 10% still running after")
			out.mu.Unlock()
			if said {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	o.d.Stdout, o.Reports = out, config.Reports{JSON: dir + "/r.json"}
	if err := Run(ctx, o); err != nil {
		t.Fatalf("%v\n%s", err, out.w.String())
	}
	if !strings.Contains(out.w.String(), "canary: set_weight 10% still running after") {
		t.Errorf("no keep-alive line:\n%s", out.w.String())
	}
}
