// Package health checks endpoints after a deploy: every endpoint is polled
// concurrently until it has answered as expected enough times in a row, or has
// used its attempts, or the deadline has come.
package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/pmguard/pmguard/internal/deploymarker"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/report"
	"github.com/pmguard/pmguard/internal/verdict"
)

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
// otherwise, or an error when it could not write its outputs.
func Run(ctx context.Context, o *Options) error {
	out := &lockedWriter{w: o.d.Stdout}
	sem := make(chan struct{}, o.Concurrency)

	fmt.Fprintf(out, "pmguard health: %d endpoint(s), up to %d attempt(s) each, %s apart, %s per request%s\n",
		len(o.Targets), o.maxAttempts(), o.Interval, o.Timeout, deadlineNote(o.Deadline.Duration))
	o.event(ctx, events.HealthStarted, "", "", events.HealthRun{Endpoints: len(o.Targets)})
	marker := deploymarker.ForVerb(o.Settings.Settings, o.d, out, o.RunCLI)
	marker.Plan(ctx)
	marker.Running(ctx)
	// The deadline is the check's: a slow or hung circleci CLI costs the
	// markers their own time, never a healthy endpoint its attempts.
	if o.Deadline.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Deadline.Duration)
		defer cancel()
	}
	start := o.d.Now()

	results := make([]EndpointResult, len(o.Targets))
	var wg sync.WaitGroup
	for i, ep := range o.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = o.poll(ctx, ep, sem, out, start)
		}()
	}
	wg.Wait()

	res := Result{Pass: true, Started: start.UTC(), ElapsedMS: ms(o.d.Now().Sub(start)), Endpoints: results}
	var failing []string
	for _, r := range results {
		name := events.EndpointPassed
		if r.Pass {
			res.Passed++
		} else {
			res.Failed++
			res.Pass = false
			failing = append(failing, r.URL)
			name = events.EndpointFailed
		}
		o.event(ctx, name, r.URL, r.Reason, endpointFigures(r))
	}
	printSummary(out, results)

	run := events.HealthRun{Endpoints: len(results), Passed: res.Passed, Failed: res.Failed, ElapsedS: res.ElapsedMS / 1000}
	if res.Pass {
		o.event(ctx, events.HealthPassed, "", fmt.Sprintf("%d endpoint(s) healthy", len(results)), run)
	} else {
		run.FailingEndpoints = failing
		o.event(ctx, events.HealthFailed, "", fmt.Sprintf("%d of %d endpoint(s) failed: %s", res.Failed, len(results), strings.Join(failing, ", ")), run)
	}

	// The deploy marker gets the verdict before the reports are written: a
	// report that cannot be written must not leave the deploy RUNNING.
	msg := fmt.Sprintf("%d of %d endpoint(s) failed: %s", res.Failed, len(results), summarize(results))
	if res.Pass {
		marker.Succeeded(ctx)
	} else {
		reason := "health check FAILED: " + msg
		if u := o.d.Job.BuildURL; u != "" {
			reason += "; rollback and figures: " + u
		}
		marker.Failed(ctx, o.d.Redactor.Redact(reason))
	}
	if err := report.WriteJSON(o.Reports.JSON, res); err != nil {
		return o.d.Redactor.Error(err)
	}
	if err := report.WriteJUnit(o.Reports.JUnit, junitSuite(res)); err != nil {
		return o.d.Redactor.Error(err)
	}
	if !res.Pass {
		return verdict.Failf("%s", msg)
	}
	fmt.Fprintf(out, "PASS: %d endpoint(s) healthy in %s\n", len(results), time.Duration(res.ElapsedMS*1e6).Round(time.Millisecond))
	return nil
}

func (o *Options) maxAttempts() int { return int(o.Retries + o.SuccessThreshold) }

// event appends to the event log; a log that cannot be written is reported
// but does not change the verdict.
func (o *Options) event(ctx context.Context, name, target, msg string, figures any) {
	e := events.Event{Verb: "health", Event: name, Target: target, Message: msg}
	e.SetFigures(figures)
	if err := o.events.Append(ctx, e); err != nil {
		fmt.Fprintf(o.d.Stdout, "warning: %v\n", err)
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
// T + interval; a 429 or 503 with Retry-After pushes the next attempt back,
// by httpx.MaxRetryAfter at most: a server asking for an hour must not hold
// the deploy for one.
func (o *Options) poll(ctx context.Context, ep Endpoint, sem chan struct{}, out io.Writer, start time.Time) EndpointResult {
	r := EndpointResult{URL: ep.Name(), Expect: ep.Expect.String()}
	maxAttempts, need := o.maxAttempts(), int(o.SuccessThreshold)
	streak := 0
	var next time.Time
	for n := 1; n <= maxAttempts; n++ {
		if n > 1 {
			wait := next.Sub(o.d.Now())
			if dl, ok := ctx.Deadline(); ok && o.d.Now().Add(wait).After(dl) {
				r.Reason = fmt.Sprintf("deadline %s reached after %d attempt(s); last: %s", o.Deadline, n-1, lastReason(r))
				break
			}
			if err := o.d.Sleep(ctx, wait); err != nil {
				r.Reason = o.stopReason(ctx, n-1, r)
				break
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			r.Reason = o.stopReason(ctx, n-1, r)
			r.Elapsed = o.d.Now().Sub(start)
			r.ElapsedMS = ms(r.Elapsed)
			return r
		}
		a := o.attempt(ctx, ep, n)
		<-sem
		r.Attempts = append(r.Attempts, a)
		if a.Pass {
			streak++
		} else {
			streak = 0
		}
		printAttempt(out, r.URL, a, n, maxAttempts, streak, need)
		if streak >= need {
			r.Pass, r.Reason = true, ""
			break
		}
		if maxAttempts-n < need-streak {
			r.Reason = fmt.Sprintf("%s after %d attempt(s)", lastReason(r), n)
			if a.Pass {
				r.Reason = fmt.Sprintf("passed only %d time(s) in a row of %d needed in %d attempt(s)", streak, need, n)
			}
			break
		}
		next = a.Time.Add(o.Interval.Duration)
		if ra := a.answered.Add(min(a.RetryAfter, httpx.MaxRetryAfter)); a.RetryAfter > 0 && ra.After(next) {
			next = ra
		}
	}
	if !r.Pass && r.Reason == "" {
		r.Reason = lastReason(r)
	}
	r.Elapsed = o.d.Now().Sub(start)
	r.ElapsedMS = ms(r.Elapsed)
	return r
}

func (o *Options) stopReason(ctx context.Context, attempts int, r EndpointResult) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Sprintf("deadline %s reached after %d attempt(s); last: %s", o.Deadline, attempts, lastReason(r))
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

func endpointFigures(r EndpointResult) events.HealthEndpoint {
	f := events.HealthEndpoint{Attempts: len(r.Attempts), ElapsedS: r.ElapsedMS / 1000, ExpectStatus: r.Expect}
	if n := len(r.Attempts); n > 0 {
		f.Status, f.LatencyMS = r.Attempts[n-1].Status, r.Attempts[n-1].LatencyMS
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
