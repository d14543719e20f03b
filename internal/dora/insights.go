package dora

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
)

// insightsSummary reads CircleCI Insights' summary of a workflow and
// returns its MTTR.
func insightsSummary(ctx context.Context, c *circleci.Client, slug, workflow, branch string) (*CIRecovery, error) {
	out, err := c.Insights.Summary(ctx, slug, workflow, branch)
	if err != nil {
		return nil, fmt.Errorf("the Insights summary of workflow %s: %w", workflow, err)
	}
	if out.Metrics.MTTR == nil {
		return nil, fmt.Errorf("no Insights MTTR for workflow %s (no failure followed by a success)", workflow)
	}
	return &CIRecovery{Workflow: workflow, MTTR: time.Duration(*out.Metrics.MTTR) * time.Second,
		WindowStart: out.Metrics.WindowStart, WindowEnd: out.Metrics.WindowEnd}, nil
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
