// Package health checks endpoints after a deploy: every endpoint is polled
// concurrently until it has answered as expected enough times in a row, or has
// used its attempts, or the deadline has come.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/pmguard/pmguard/internal/clock"
	"github.com/pmguard/pmguard/internal/verdict"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/report"
)

// Options are a health run's inputs and dependencies.
type Options struct {
	Plan      *Plan
	Reports   config.Reports
	HTTP      *http.Client // no retries: the poll loop is the retry
	UserAgent string
	Out       io.Writer // progress and summary
	Events    *events.Log
	Redact    func(string) string
	Now       func() time.Time
	// Sleep waits d or until ctx is done; tests may count the waits.
	Sleep func(ctx context.Context, d time.Duration) error
}

// EndpointResult is the verdict for one endpoint with its attempts.
type EndpointResult struct {
	URL      string    `json:"url"`
	Expect   string    `json:"expect_status"`
	Pass     bool      `json:"pass"`
	Reason   string    `json:"reason,omitempty"`
	Attempts []Attempt `json:"attempts"`
	// Elapsed is from the start of the run to the endpoint's verdict.
	Elapsed   time.Duration `json:"-"`
	ElapsedMS float64       `json:"elapsed_ms"`
}

// Result is a whole run's verdict, as written to --json.
type Result struct {
	Pass      bool             `json:"pass"`
	Started   time.Time        `json:"started"`
	ElapsedMS float64          `json:"elapsed_ms"`
	Passed    int              `json:"passed"`
	Failed    int              `json:"failed"`
	Endpoints []EndpointResult `json:"endpoints"`
}

// Run checks every endpoint and returns nil when all pass, a verdict of fail
// (exit 1) otherwise, or an error when it could not write its outputs (exit 3).
func Run(ctx context.Context, o Options) error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = clock.Sleep
	}
	if o.Redact == nil {
		o.Redact = func(s string) string { return s }
	}
	plan := o.Plan
	if plan.Deadline > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, plan.Deadline)
		defer cancel()
	}
	start := o.Now()
	out := &lockedWriter{w: o.Out}
	pr := &prober{client: o.HTTP, plan: plan, userAgent: o.UserAgent, redact: o.Redact, now: o.Now}
	sem := make(chan struct{}, plan.Concurrency)

	fmt.Fprintf(out, "pmguard health: %d endpoint(s), up to %d attempt(s) each, %s apart, %s per request%s\n",
		len(plan.Endpoints), plan.Retries+plan.SuccessThreshold, plan.Interval, plan.Timeout, deadlineNote(plan.Deadline))
	o.event(events.Event{Verb: "health", Event: "health_started", Figures: map[string]any{"endpoints": len(plan.Endpoints)}})

	results := make([]EndpointResult, len(plan.Endpoints))
	var wg sync.WaitGroup
	for i, ep := range plan.Endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = poll(ctx, pr, ep, plan, sem, out, start, o)
		}()
	}
	wg.Wait()

	res := Result{Pass: true, Started: start.UTC(), ElapsedMS: ms(o.Now().Sub(start)), Endpoints: results}
	var failing []string
	for _, r := range results {
		ev := events.Event{Verb: "health", Target: r.URL, Figures: endpointFigures(r)}
		if r.Pass {
			res.Passed++
			ev.Event = "endpoint_passed"
		} else {
			res.Failed++
			res.Pass = false
			failing = append(failing, r.URL)
			ev.Event, ev.Message = "endpoint_failed", r.Reason
		}
		o.event(ev)
	}
	printSummary(out, results)

	final := events.Event{Verb: "health", Figures: map[string]any{
		"endpoints": len(results), "passed": res.Passed, "failed": res.Failed, "elapsed_s": res.ElapsedMS / 1000,
	}}
	if res.Pass {
		final.Event, final.Message = "health_passed", fmt.Sprintf("%d endpoint(s) healthy", len(results))
	} else {
		final.Event = "health_failed"
		final.Figures["failing_endpoints"] = failing
		final.Message = fmt.Sprintf("%d of %d endpoint(s) failed: %s", res.Failed, len(results), strings.Join(failing, ", "))
	}
	o.event(final)

	if err := report.WriteJSON(o.Reports.JSON, res); err != nil {
		return err
	}
	if err := report.WriteJUnit(o.Reports.JUnit, junitSuite(res)); err != nil {
		return err
	}
	if !res.Pass {
		return verdict.Failf("%d of %d endpoint(s) failed: %s", res.Failed, len(results), summarize(results))
	}
	fmt.Fprintf(out, "PASS: %d endpoint(s) healthy in %s\n", len(results), time.Duration(res.ElapsedMS*1e6).Round(time.Millisecond))
	return nil
}

// event appends to the event log; a log that cannot be written is reported
// but does not change the verdict.
func (o Options) event(e events.Event) {
	if err := o.Events.Append(e); err != nil {
		fmt.Fprintf(o.Out, "warning: %v\n", err)
	}
}

func deadlineNote(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return fmt.Sprintf(", deadline %s", d)
}

// poll checks one endpoint until it passes success-threshold times in a row,
// runs out of attempts, or the deadline comes. Attempts start interval apart
// (start to start), so an endpoint that turns healthy at T is seen by
// T + interval; a 429 or 503 with Retry-After pushes the next attempt back.
func poll(ctx context.Context, pr *prober, ep Endpoint, plan *Plan, sem chan struct{}, out io.Writer, start time.Time, o Options) EndpointResult {
	r := EndpointResult{URL: ep.Name(), Expect: ep.Expect.String()}
	maxAttempts := plan.Retries + plan.SuccessThreshold
	streak := 0
	var next time.Time
	for n := 1; n <= maxAttempts; n++ {
		if n > 1 {
			wait := next.Sub(o.Now())
			if dl, ok := ctx.Deadline(); ok && o.Now().Add(wait).After(dl) {
				r.Reason = fmt.Sprintf("deadline %s reached after %d attempt(s); last: %s", plan.Deadline, n-1, lastReason(r))
				break
			}
			if err := o.Sleep(ctx, wait); err != nil {
				r.Reason = stopReason(ctx, plan, n-1, r)
				break
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			r.Reason = stopReason(ctx, plan, n-1, r)
			r.Elapsed = o.Now().Sub(start)
			r.ElapsedMS = ms(r.Elapsed)
			return r
		}
		a := pr.probe(ctx, ep, n)
		<-sem
		r.Attempts = append(r.Attempts, a)
		if a.Pass {
			streak++
		} else {
			streak = 0
		}
		printAttempt(out, r.URL, a, n, maxAttempts, streak, plan.SuccessThreshold)
		if streak >= plan.SuccessThreshold {
			r.Pass, r.Reason = true, ""
			break
		}
		if maxAttempts-n < plan.SuccessThreshold-streak {
			r.Reason = fmt.Sprintf("%s after %d attempt(s)", lastReason(r), n)
			if a.Pass {
				r.Reason = fmt.Sprintf("passed only %d time(s) in a row of %d needed in %d attempt(s)", streak, plan.SuccessThreshold, n)
			}
			break
		}
		next = a.Time.Add(plan.Interval)
		if ra := a.answered.Add(a.RetryAfter); a.RetryAfter > 0 && ra.After(next) {
			next = ra
		}
	}
	if !r.Pass && r.Reason == "" {
		r.Reason = lastReason(r)
	}
	r.Elapsed = o.Now().Sub(start)
	r.ElapsedMS = ms(r.Elapsed)
	return r
}

func stopReason(ctx context.Context, plan *Plan, attempts int, r EndpointResult) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("deadline %s reached after %d attempt(s); last: %s", plan.Deadline, attempts, lastReason(r))
	}
	return fmt.Sprintf("stopped after %d attempt(s); last: %s", attempts, lastReason(r))
}

func lastReason(r EndpointResult) string {
	if len(r.Attempts) == 0 {
		return "no attempt made"
	}
	a := r.Attempts[len(r.Attempts)-1]
	if a.Reason == "" {
		return fmt.Sprintf("status %d", a.Status)
	}
	return a.Reason
}

func printAttempt(w io.Writer, url string, a Attempt, n, max, streak, need int) {
	verdict := "ok  "
	if !a.Pass {
		verdict = "FAIL"
	}
	status := "---"
	if a.Status != 0 {
		status = fmt.Sprint(a.Status)
	}
	line := fmt.Sprintf("%s %s %s %s %8s  attempt %d/%d", a.Time.Format("15:04:05.000"), verdict, url, status, latency(a.Latency), n, max)
	if need > 1 && a.Pass {
		line += fmt.Sprintf("  (%d/%d in a row)", streak, need)
	}
	if a.Reason != "" {
		line += "  " + a.Reason
	}
	fmt.Fprintln(w, line)
}

func printSummary(w io.Writer, results []EndpointResult) {
	sorted := append([]EndpointResult(nil), results...)
	sort.SliceStable(sorted, func(i, j int) bool { return !sorted[i].Pass && sorted[j].Pass })
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ENDPOINT\tRESULT\tSTATUS\tATTEMPTS\tLATENCY\tTIME\tREASON")
	for _, r := range sorted {
		res, status, lat := "pass", "---", "---"
		if !r.Pass {
			res = "FAIL"
		}
		if n := len(r.Attempts); n > 0 {
			if s := r.Attempts[n-1].Status; s != 0 {
				status = fmt.Sprint(s)
			}
			lat = latency(r.Attempts[n-1].Latency)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.URL, res, status, len(r.Attempts), lat, r.Elapsed.Round(100*time.Millisecond), r.Reason)
	}
	tw.Flush()
}

func latency(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%.1fms", ms(d))
	}
	return d.Round(time.Millisecond).String()
}

func summarize(results []EndpointResult) string {
	var parts []string
	for _, r := range results {
		if !r.Pass {
			parts = append(parts, fmt.Sprintf("%s (%s, for %s)", r.URL, r.Reason, r.Elapsed.Round(100*time.Millisecond)))
		}
	}
	return strings.Join(parts, "; ")
}

func endpointFigures(r EndpointResult) map[string]any {
	f := map[string]any{"attempts": len(r.Attempts), "elapsed_s": r.ElapsedMS / 1000, "expect_status": r.Expect}
	if n := len(r.Attempts); n > 0 {
		last := r.Attempts[n-1]
		f["status"] = last.Status
		f["latency_ms"] = last.LatencyMS
	}
	return f
}

func junitSuite(res Result) report.Suite {
	s := report.Suite{Name: "pmguard health", Duration: time.Duration(res.ElapsedMS * 1e6)}
	for _, r := range res.Endpoints {
		var outLines []string
		for _, a := range r.Attempts {
			status := "no response"
			if a.Status != 0 {
				status = fmt.Sprintf("status %d", a.Status)
			}
			line := fmt.Sprintf("%s attempt %d: %s, %.1f ms", a.Time.Format(time.RFC3339Nano), a.Number, status, a.LatencyMS)
			if a.Reason != "" {
				line += ": " + a.Reason
			}
			outLines = append(outLines, line)
		}
		c := report.Case{Name: r.URL, ClassName: "health", Duration: r.Elapsed, Output: strings.Join(outLines, "\n")}
		if !r.Pass {
			c.Failure = r.Reason
		}
		s.Cases = append(s.Cases, c)
	}
	return s
}

// lockedWriter keeps concurrent endpoints' lines whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
