package circleci

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// InsightsService covers /insights: recent runs of a workflow, with status
// and duration. Insights data is aggregated and may lag a few minutes behind
// the pipelines API.
type InsightsService struct{ c *Client }

// WorkflowRun is one run of a workflow as Insights reports it.
type WorkflowRun struct {
	ID          string     `json:"id"`
	Branch      string     `json:"branch"`
	Duration    *int64     `json:"duration"` // seconds
	CreatedAt   time.Time  `json:"created_at"`
	StoppedAt   *time.Time `json:"stopped_at"`
	CreditsUsed int64      `json:"credits_used"`
	Status      *string    `json:"status"`
	IsApproval  bool       `json:"is_approval"`
}

// WorkflowRunsOptions filters workflow runs.
type WorkflowRunsOptions struct {
	Branch      string // "" for the default branch, unless AllBranches
	AllBranches bool
	Start, End  time.Time // zero for CircleCI's default window
}

// WorkflowRuns iterates over recent runs of a named workflow, newest first.
func (s *InsightsService) WorkflowRuns(ctx context.Context, projectSlug, workflowName string, opts *WorkflowRunsOptions) iter.Seq2[WorkflowRun, error] {
	q := url.Values{}
	if opts != nil {
		if opts.Branch != "" {
			q.Set("branch", opts.Branch)
		}
		if opts.AllBranches {
			q.Set("all-branches", "true")
		}
		if !opts.Start.IsZero() {
			q.Set("start-date", opts.Start.UTC().Format(time.RFC3339))
		}
		if !opts.End.IsZero() {
			q.Set("end-date", opts.End.UTC().Format(time.RFC3339))
		}
	}
	return newPager[WorkflowRun](s.c, "/insights/"+pathEscape(projectSlug)+"/workflows/"+url.PathEscape(workflowName), q, 0, PageLimit).Items(ctx)
}

// WorkflowSummary is the part of a workflow's Insights summary pmguard reads.
type WorkflowSummary struct {
	Metrics struct {
		// MTTR is in seconds; nil when no failure was followed by a success.
		MTTR        *int64    `json:"mttr"`
		WindowStart time.Time `json:"window_start"`
		WindowEnd   time.Time `json:"window_end"`
	} `json:"metrics"`
}

// Summary reads a workflow's aggregated metrics on branch, or on every
// branch when branch is "".
func (s *InsightsService) Summary(ctx context.Context, projectSlug, workflowName, branch string) (*WorkflowSummary, error) {
	q := url.Values{}
	if branch != "" {
		q.Set("branch", branch)
	} else {
		q.Set("all-branches", "true")
	}
	var out WorkflowSummary
	err := s.c.do(ctx, http.MethodGet, "/insights/"+pathEscape(projectSlug)+"/workflows/"+url.PathEscape(workflowName)+"/summary", q, nil, &out)
	return &out, err
}
