package dora

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/httpx"
)

// The Insights summary request has the path, query and header of the spec's
// getWorkflowSummary, and its MTTR (seconds) becomes CI recovery.
func TestInsightsSummary(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v2/insights/gh/acme/shop/workflows/deploy-prod/summary" || r.URL.Query().Get("branch") != "main" || r.Header.Get("Circle-Token") != "tok-0123456789" {
			http.Error(w, `{"message":"not found"}`, http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"metrics":{"total_runs":40,"successful_runs":36,"mttr":7200,"total_credits_used":10,"failed_runs":4,"success_rate":0.9,"completed_runs":40,
"window_start":"2026-10-17T00:00:00Z","duration_metrics":{"min":60,"mean":300,"median":280,"p95":600,"max":900,"standard_deviation":50.5},"window_end":"2026-11-16T00:00:00Z","throughput":1.3},
"trends":{"total_runs":0.1,"failed_runs":0,"success_rate":0,"p95_duration_secs":0,"median_duration_secs":0,"total_credits_used":0,"mttr":0,"throughput":0},"workflow_names":["deploy-prod"]}`))
	}))
	t.Cleanup(srv.Close)
	c, err := circleci.New(circleci.Options{Host: srv.URL, Token: "tok-0123456789", HTTP: httpx.New(httpx.Options{Retries: -1})})
	if err != nil {
		t.Fatal(err)
	}
	got, err := insightsSummary(context.Background(), c, "gh/acme/shop", "deploy-prod", "main")
	if err != nil {
		t.Fatal(err)
	}
	if got.MTTR != 2*time.Hour || got.Workflow != "deploy-prod" || !got.WindowEnd.Equal(ts("2026-11-16 00:00")) {
		t.Errorf("got %+v", got)
	}
	if _, err := insightsSummary(context.Background(), c, "gh/acme/shop", "other", "main"); err == nil {
		t.Error("a 404 was not an error")
	}
}

// Without the summary, CI recovery follows Insights' definition over the
// fetched runs: each failure to the next success, averaged.
func TestCIRecoveryFromRuns(t *testing.T) {
	run := func(fin, status string) Deploy { return Deploy{Workflow: "deploy", Finished: ts(fin), Status: status} }
	got := ciRecoveryFromRuns([]Deploy{
		run("2026-11-02 10:00", "failed"), run("2026-11-02 11:00", "failed"), run("2026-11-02 12:00", "success"), // 2h and 1h
		run("2026-11-03 10:00", "success"), run("2026-11-04 10:00", "error"), run("2026-11-04 13:00", "success"), // 3h
		run("2026-11-05 10:00", "canceled"), run("2026-11-06 10:00", "failed"), // never recovered: not counted
	}, "deploy")
	if got == nil || got.MTTR != 2*time.Hour { // (2h + 1h + 3h) / 3
		t.Errorf("got %+v, want 2h", got)
	}
}
