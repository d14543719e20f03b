package metricsource_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/metricsource"
)

// TestPrometheusRateLimitSaysSo: a Prometheus that keeps answering 429 is
// reported as rate limiting the query, with the wait it asks for; one whose
// wait would pass the deadline fails at once, saying so.
func TestPrometheusRateLimitSaysSo(t *testing.T) {
	var calls atomic.Int64
	retryAfter := "30"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Retry-After", retryAfter)
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{}`))
	}))
	defer srv.Close()

	p, err := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: srv.URL, HTTP: httpx.Options{Retries: -1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Scalar(context.Background(), "up", time.Now())
	for _, want := range []string{"prometheus rate limited the query (HTTP 429, rate_limited); it asks to wait 30s", "query: up"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "not a Prometheus API response") {
		t.Errorf("error %v", err)
	}

	retryAfter = "3600"
	p, err = metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: srv.URL, HTTP: httpx.Options{Retries: 3}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	before := calls.Load()
	_, err = p.Scalar(ctx, "up", time.Now())
	for _, want := range []string{"HTTP 429 (rate limited)", "asked to wait 1h0m0s", "left before the deadline"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if n := calls.Load() - before; n != 1 || ctx.Err() != nil {
		t.Errorf("%d requests, ctx %v: the hour was waited for", n, ctx.Err())
	}
}
