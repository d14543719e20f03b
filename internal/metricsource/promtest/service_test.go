package promtest

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServiceCountsAreExact(t *testing.T) {
	cases := []struct {
		rate    float64
		n, errs int
	}{{0.01, 300, 3}, {0.2, 150, 30}, {0.29, 100, 29}, {0.07, 100, 7}, {0, 50, 0}, {1, 20, 20}, {0.5, 3, 1}}
	for _, c := range cases {
		s := NewService(t, ServiceOptions{Tracks: map[string]Track{"canary": {ErrorRate: c.rate}}})
		s.Drive("canary", c.n)
		if total, errs := s.Served("canary"); total != c.n || errs != c.errs {
			t.Errorf("rate %v: %d errors of %d, want %d of %d", c.rate, errs, total, c.errs, c.n)
		}
	}
}

func TestServiceOverHTTPAndMetrics(t *testing.T) {
	s := NewService(t, ServiceOptions{App: "shop", Tracks: map[string]Track{
		"stable": {Latency: 20 * time.Millisecond},
		"canary": {ErrorRate: 0.5, Latency: time.Millisecond, Sleep: true},
	}})
	codes := map[int]int{}
	for range 4 {
		resp, err := http.Get(s.URL + "/canary/checkout")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes[resp.StatusCode]++
	}
	if codes[200] != 2 || codes[500] != 2 {
		t.Errorf("codes %v, want two 200 and two 500", codes)
	}
	if resp, err := http.Get(s.URL + "/nosuchtrack/"); err != nil || resp.StatusCode != 404 {
		t.Fatalf("unknown track: %v %v", resp, err)
	}
	s.Set("stable", Track{ErrorRate: 1})
	s.Drive("stable", 3)
	resp, err := http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`http_requests_total{app="shop",code="500",method="GET",track="canary"} 2`,
		`http_requests_total{app="shop",code="200",method="GET",track="stable"} 0`,
		`http_requests_total{app="shop",code="500",method="GET",track="stable"} 3`,
		`http_request_duration_seconds_bucket{app="shop",track="canary",le="0.005"} 4`,
		`http_request_duration_seconds_count{app="shop",track="stable"} 3`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestConfig(t *testing.T) {
	got := config(Options{Targets: []string{"127.0.0.1:1", "127.0.0.1:2"}, ScrapeInterval: 250 * time.Millisecond})
	for _, want := range []string{"scrape_interval: 250ms", `targets: ["127.0.0.1:1", "127.0.0.1:2"]`} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %s:\n%s", want, got)
		}
	}
}
