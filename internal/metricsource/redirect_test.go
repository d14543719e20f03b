package metricsource_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/metricsource"
)

// A metric API that redirects to another origin must not hand it the
// credentials: the Datadog keys and the Prometheus bearer token stay behind.
func TestCredentialsDoNotFollowRedirects(t *testing.T) {
	const token = "prom-bearer-token-value-7d1f"
	var mu sync.Mutex
	var got http.Header
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = r.Header.Clone()
		mu.Unlock()
		http.Error(w, `{"status":"error","errorType":"bad_data","error":"nope"}`, http.StatusBadRequest)
	}))
	defer other.Close()
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.RequestURI(), http.StatusFound)
	}))
	defer origin.Close()

	fast := httpx.Options{Retries: -1, WaitMin: time.Millisecond}
	prom, err := metricsource.NewPrometheus(metricsource.PrometheusOptions{URL: origin.URL, Token: token, TokenEnv: "PROM_TOKEN", HTTP: fast})
	if err != nil {
		t.Fatal(err)
	}
	dd, err := metricsource.NewDatadog(metricsource.DatadogOptions{BaseURL: origin.URL, APIKey: ddAPIKey, AppKey: ddAppKey, HTTP: fast})
	if err != nil {
		t.Fatal(err)
	}
	for name, src := range map[string]metricsource.Source{"prometheus": prom, "datadog": dd} {
		t.Run(name, func(t *testing.T) {
			mu.Lock()
			got = nil
			mu.Unlock()
			_, _ = src.Counts(context.Background(), `{app="api"}`, metricsource.Window{Length: time.Minute})
			mu.Lock()
			defer mu.Unlock()
			if got == nil {
				t.Fatal("the redirect was not followed: the test proves nothing")
			}
			for _, h := range []string{"Authorization", "DD-API-KEY", "DD-APPLICATION-KEY"} {
				if v := got.Get(h); v != "" {
					t.Errorf("%s reached the other origin: %q", h, v)
				}
			}
		})
	}
}
