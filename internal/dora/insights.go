package dora

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/httpx"
)

// insightsSummary reads CircleCI Insights' summary of a workflow
// (GET /insights/{project-slug}/workflows/{workflow-name}/summary) and
// returns its MTTR. base is the API base (…/api/v2).
func insightsSummary(ctx context.Context, hc *httpx.Client, base, token, slug, workflow, branch string) (*CIRecovery, error) {
	q := url.Values{}
	if branch != "" {
		q.Set("branch", branch)
	} else {
		q.Set("all-branches", "true")
	}
	u := strings.TrimSuffix(base, "/") + "/insights/" + slugPath(slug) + "/workflows/" + url.PathEscape(workflow) + "/summary?" + q.Encode()
	resp, err := hc.Get(ctx, u, http.Header{"Circle-Token": {token}, "Accept": {"application/json"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _, err := httpx.ReadLimited(resp.Body, 1<<20)
	if err != nil {
		return nil, hc.Redactor().Error(err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the Insights summary of workflow %s: HTTP %d", workflow, resp.StatusCode)
	}
	var out struct {
		Metrics struct {
			MTTR        *int64    `json:"mttr"`
			WindowStart time.Time `json:"window_start"`
			WindowEnd   time.Time `json:"window_end"`
		} `json:"metrics"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("the Insights summary of workflow %s: %w", workflow, err)
	}
	if out.Metrics.MTTR == nil {
		return nil, fmt.Errorf("no Insights MTTR for workflow %s (no failure followed by a success)", workflow)
	}
	return &CIRecovery{Workflow: workflow, MTTR: time.Duration(*out.Metrics.MTTR) * time.Second,
		WindowStart: out.Metrics.WindowStart, WindowEnd: out.Metrics.WindowEnd}, nil
}

func slugPath(slug string) string {
	parts := strings.Split(slug, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// ciRecoveryFromRuns computes Insights' MTTR definition over the fetched
// runs of one workflow: for each failed run that a success later follows,
// the time from that failure to the success; the mean. Used when the
// Insights summary cannot be read.
func ciRecoveryFromRuns(ds []Deploy, workflow string) *CIRecovery {
	var runs []Deploy
	for _, d := range ds {
		if d.Workflow == workflow && !d.Finished.IsZero() && (d.Status == "success" || d.Status == "failed" || d.Status == "error") {
			runs = append(runs, d)
		}
	}
	sort.SliceStable(runs, func(i, j int) bool { return runs[i].Finished.Before(runs[j].Finished) })
	var total time.Duration
	n := 0
	var pending []time.Time
	for _, d := range runs {
		if d.Status != "success" {
			pending = append(pending, d.Finished)
			continue
		}
		for _, f := range pending {
			total += d.Finished.Sub(f)
			n++
		}
		pending = nil
	}
	if n == 0 {
		return nil
	}
	return &CIRecovery{Workflow: workflow, MTTR: total / time.Duration(n)}
}
