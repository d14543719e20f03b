package metricsource_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/metricsource"
	"github.com/pmguard/pmguard/internal/metricsource/promtest"
)

// TestPrometheusReal runs the client against a real Prometheus scraping a
// service with a healthy stable track and a broken, slow canary track.
func TestPrometheusReal(t *testing.T) {
	stack := promtest.StartStack(t, promtest.ServiceOptions{Tracks: map[string]promtest.Track{
		"stable": {ErrorRate: 0.01, Latency: 30 * time.Millisecond},
		"canary": {ErrorRate: 0.2, Latency: 40 * time.Millisecond, SlowRate: 0.1, SlowLatency: 700 * time.Millisecond},
	}}, promtest.Options{})
	end := stack.Drive(t, map[string]int{"stable": 300, "canary": 150})

	const token = "prom-bearer-token-value-7d1f"
	p, err := metricsource.NewPrometheus(metricsource.PrometheusOptions{
		URL: stack.Prometheus.URL, Token: token, TokenEnv: "PROM_TOKEN",
		HTTP: httpx.Options{Retries: 1, WaitMin: time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// The zero samples are at most a few seconds older than end; a 1m
	// window evaluated exactly at the last scrape counts every request once.
	w := metricsource.Window{End: end, Length: time.Minute}

	t.Run("counts per track", func(t *testing.T) {
		for _, track := range []string{"stable", "canary"} {
			total, errs := stack.Service.Served(track)
			got, err := p.Counts(ctx, `{app="api",track="`+track+`"}`, w)
			if err != nil {
				t.Fatalf("%s: %v", track, err)
			}
			if got.Total != float64(total) || got.Errors != float64(errs) {
				t.Errorf("%s: got %+v, want errors %d of %d", track, got, errs, total)
			}
		}
		// The fixture's own arithmetic, so the comparison above is not
		// between two equal mistakes.
		if total, errs := stack.Service.Served("canary"); total != 150 || errs != 30 {
			t.Errorf("canary served %d with %d errors, want 150 and 30", total, errs)
		}
	})

	t.Run("selector without braces and with a regex", func(t *testing.T) {
		got, err := p.Counts(ctx, `app="api", track=~"stable|canary"`, w)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != 450 || got.Errors != 33 {
			t.Errorf("got %+v, want 33 errors of 450", got)
		}
	})

	t.Run("latency quantile", func(t *testing.T) {
		cases := []struct {
			track  string
			q      float64
			lo, hi time.Duration // the histogram bucket holding the answer
		}{
			{"stable", 0.95, 25 * time.Millisecond, 50 * time.Millisecond},
			{"canary", 0.5, 25 * time.Millisecond, 50 * time.Millisecond},
			{"canary", 0.95, 500 * time.Millisecond, time.Second},
		}
		for _, c := range cases {
			got, err := p.Latency(ctx, `{app="api",track="`+c.track+`"}`, c.q, w)
			if err != nil {
				t.Fatalf("%s q%v: %v", c.track, c.q, err)
			}
			if got <= c.lo || got > c.hi {
				t.Errorf("%s q%v = %v, want in (%v, %v]", c.track, c.q, got, c.lo, c.hi)
			}
		}
	})

	t.Run("overrides with placeholders", func(t *testing.T) {
		po, err := metricsource.NewPrometheus(metricsource.PrometheusOptions{
			URL: stack.Prometheus.URL,
			Queries: metricsource.PromQueries{
				Errors:  `sum(increase(http_requests_total{$__selector,code="500"}[$__window]))`,
				Total:   `sum(increase(http_requests_total{$__selector,code=~"2..|5.."}[$__window]))`,
				Latency: `histogram_quantile($__quantile, sum by (le) (increase(http_request_duration_seconds_bucket{$__selector}[$__window])))`,
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := po.Counts(ctx, `{track="canary"}`, w)
		if err != nil || got.Total != 150 || got.Errors != 30 {
			t.Errorf("got %+v, %v; want 30 of 150", got, err)
		}
		lat, err := po.Latency(ctx, `{track="canary"}`, 0.95, w)
		if err != nil || lat <= 500*time.Millisecond || lat > time.Second {
			t.Errorf("latency %v, %v", lat, err)
		}
	})

	t.Run("instant and range primitives", func(t *testing.T) {
		s, err := p.Query(ctx, `sum by (track) (http_requests_total{app="api"})`, end)
		if err != nil || len(s) != 2 {
			t.Fatalf("got %v, %v", s, err)
		}
		series, err := p.QueryRange(ctx, `sum(http_requests_total{track="canary"})`, end.Add(-2*time.Second), end, 500*time.Millisecond)
		if err != nil || len(series) != 1 {
			t.Fatalf("got %v, %v", series, err)
		}
		pts := series[0].Points
		if last := pts[len(pts)-1]; !last.Time.Equal(end) || last.Value != 150 {
			t.Errorf("last point %+v, want 150 at %v", last, end)
		}
	})

	t.Run("PromQL syntax error comes back verbatim", func(t *testing.T) {
		bad := `sum(rate(http_requests_total[1m)`
		_, err := p.Query(ctx, bad, time.Time{})
		var qe *metricsource.QueryError
		if !errors.As(err, &qe) {
			t.Fatalf("got %T %v, want *metricsource.QueryError", err, err)
		}
		want := rawError(t, stack.Prometheus.URL, bad)
		if qe.Message != want || qe.Type != "bad_data" || qe.Status != 400 || !qe.BadQuery() {
			t.Errorf("got %+v, want message %q", qe, want)
		}
		t.Log(err)
		if !strings.Contains(err.Error(), want) || !metricsource.Permanent(err) {
			t.Errorf("error text %q lacks Prometheus's message or is not permanent", err)
		}
	})

	t.Run("an override with a bad function comes back verbatim", func(t *testing.T) {
		po, err := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: stack.Prometheus.URL,
			Queries: metricsource.PromQueries{Total: `sum(nosuchfn(http_requests_total{$__selector}[$__window]))`}})
		if err != nil {
			t.Fatal(err)
		}
		_, err = po.Counts(ctx, `{track="canary"}`, w)
		var qe *metricsource.QueryError
		if !errors.As(err, &qe) || !strings.Contains(qe.Message, "nosuchfn") || !strings.Contains(qe.Query, `http_requests_total{track="canary"}[1m]`) {
			t.Errorf("got %v", err)
		}
	})

	t.Run("no series is ErrNoData", func(t *testing.T) {
		_, err := p.Counts(ctx, `{app="api",track="nope"}`, w)
		if !errors.Is(err, metricsource.ErrNoData) {
			t.Fatalf("counts: got %v, want ErrNoData", err)
		}
		_, err = p.Latency(ctx, `{app="nope"}`, 0.95, w)
		if !errors.Is(err, metricsource.ErrNoData) {
			t.Fatalf("latency: got %v, want ErrNoData", err)
		}
		_, err = p.Query(ctx, `absent_metric_name`, time.Time{})
		var nd *metricsource.NoDataError
		if !errors.As(err, &nd) || nd.Query != "absent_metric_name" {
			t.Fatalf("query: got %v", err)
		}
	})

	t.Run("no traffic in the window: zero counts, no latency", func(t *testing.T) {
		// Wait for scrapes after the traffic; a window holding only those
		// sees series that exist but did not move.
		res := stack.Prometheus.Await(t, "later scrapes", `max(timestamp(http_requests_total{app="api"}))`, func(r []promtest.Sample) bool {
			return len(r) == 1 && r[0].Value*1000 >= float64(end.Add(1500*time.Millisecond).UnixMilli())
		})
		quiet := metricsource.Window{End: time.UnixMilli(int64(res[0].Value * 1000)), Length: time.Second}
		got, err := p.Counts(ctx, `{track="canary"}`, quiet)
		if err != nil {
			t.Fatal(err)
		}
		if got.Total != 0 || got.Errors != 0 {
			t.Errorf("got %+v, want zeros", got)
		}
		_, err = p.Latency(ctx, `{track="canary"}`, 0.95, quiet)
		if !errors.Is(err, metricsource.ErrNoData) {
			t.Errorf("got %v, want ErrNoData", err)
		}
	})
}

// rawError asks Prometheus directly, to know its exact error text.
func rawError(t *testing.T, base, query string) string {
	t.Helper()
	resp, err := http.Get(base + "/api/v1/query?" + url.Values{"query": {query}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct{ Error string }
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.Error == "" {
		t.Fatalf("raw query: %v %q", err, r.Error)
	}
	return r.Error
}
