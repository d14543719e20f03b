package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/pmguard/pmguard/internal/canary"
	"github.com/pmguard/pmguard/internal/verdict"
)

// canary deploys a canary of the sample service that starts healthy and
// degrades two seconds in (one request in five fails), and runs the
// analysis a pmguard/canary_deploy step would: it must catch it.
func (d *Demo) canary(ctx context.Context) error {
	svc, err := startCanaryService(2 * time.Second)
	if err != nil {
		return err
	}
	defer svc.Close()
	fmt.Fprintf(d.Out, "The new version was deployed as a canary at %s (10%% of traffic).\n", svc.URL)
	fmt.Fprintln(d.Out, "It starts healthy; two seconds in, a bad code path starts failing one request in five.")
	fmt.Fprintf(d.Out, "The job's step:  pmguard/canary_deploy: {url: %s/v1/ping, rate: \"40\", error_threshold: 2%%, latency_threshold: 250ms, max_duration: 2m, ...}\n\n", svc.URL)

	settings := map[string]string{
		"PMGUARD_CANARY_URL":               svc.URL + "/v1/ping",
		"PMGUARD_CANARY_RATE":              "40",
		"PMGUARD_CANARY_ERROR_THRESHOLD":   "2%",
		"PMGUARD_CANARY_LATENCY_THRESHOLD": "250ms",
		"PMGUARD_CANARY_MAX_DURATION":      "2m",
		"PMGUARD_CANARY_MIN_SAMPLES":       "400", // keep it from passing before the fault shows
		"PMGUARD_CANARY_PERCENTAGE":        "10",
		"PMGUARD_CANARY_JUNIT":             d.Dir + "/canary-junit.xml",
		"PMGUARD_CANARY_JSON":              d.Dir + "/canary.json",
		"PMGUARD_EVENTS_FILE":              d.EventsFile,
	}
	o, err := canary.New(ctx, d.deps(settings, io.Discard), nil)
	if err != nil {
		return err
	}
	o.ProgressEvery = time.Second
	err = canary.Run(ctx, o)
	var fail *verdict.Fail
	switch {
	case errors.As(err, &fail):
		fmt.Fprintf(d.Out, "\nThe step failed (exit 1): CircleCI runs the rollback steps (when: on_fail) and skips deploy_full.\n")
		return nil
	case err == nil:
		return fmt.Errorf("the degraded canary should have failed")
	}
	return err
}

// startCanaryService serves /v1/ping: fine until degradeAfter, then every
// fifth request fails with 500.
func startCanaryService(degradeAfter time.Duration) (*loopback, error) {
	start := time.Now()
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/ping", func(w http.ResponseWriter, r *http.Request) {
		i := n.Add(1)
		time.Sleep(3 * time.Millisecond)
		if time.Since(start) > degradeAfter && i%5 == 0 {
			http.Error(w, "nil pointer dereference in pricing.Quote", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("pong\n"))
	})
	return serve(mux)
}
