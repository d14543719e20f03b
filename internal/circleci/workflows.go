package circleci

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// WorkflowsService covers /workflow/{id}.
type WorkflowsService struct{ c *Client }

// Workflow statuses.
const (
	StatusSuccess      = "success"
	StatusRunning      = "running"
	StatusNotRun       = "not_run"
	StatusFailed       = "failed"
	StatusError        = "error"
	StatusFailing      = "failing"
	StatusOnHold       = "on_hold"
	StatusCanceled     = "canceled"
	StatusUnauthorized = "unauthorized"
)

// Workflow is a workflow as the API returns it (schema "Workflow").
type Workflow struct {
	PipelineID     string     `json:"pipeline_id"`
	CanceledBy     string     `json:"canceled_by,omitempty"`
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	ProjectSlug    string     `json:"project_slug"`
	ErroredBy      string     `json:"errored_by,omitempty"`
	Tag            *string    `json:"tag,omitempty"`
	Status         string     `json:"status"`
	StartedBy      string     `json:"started_by"`
	PipelineNumber int64      `json:"pipeline_number"`
	CreatedAt      time.Time  `json:"created_at"`
	StoppedAt      *time.Time `json:"stopped_at"`
}

// NewestRuns is the newest run of each workflow name among wfs, in the
// order they are listed. A rerun is a new workflow of the same name in the
// same pipeline, and the run it repeated keeps its own status: the newest
// run of each name is the one that says how the workflow ended.
func NewestRuns(wfs []*Workflow) []*Workflow {
	var out []*Workflow
	byName := map[string]int{}
	for _, w := range wfs {
		if i, ok := byName[w.Name]; !ok {
			byName[w.Name] = len(out)
			out = append(out, w)
		} else if w.CreatedAt.After(out[i].CreatedAt) {
			out[i] = w
		}
	}
	return out
}

// Done reports whether the workflow has finished (successfully or not).
func (w *Workflow) Done() bool { return WorkflowDone(w.Status) }

// WorkflowDone reports whether a workflow status is final. on_hold is not:
// it waits for an approval.
func WorkflowDone(status string) bool {
	switch status {
	case StatusSuccess, StatusFailed, StatusError, StatusCanceled, StatusUnauthorized, StatusNotRun:
		return true
	}
	return false
}

// Get returns a workflow by id.
func (s *WorkflowsService) Get(ctx context.Context, id string) (*Workflow, error) {
	return call[Workflow](ctx, s.c, http.MethodGet, "/workflow/"+url.PathEscape(id), nil)
}

// Jobs returns every job of a workflow.
func (s *WorkflowsService) Jobs(ctx context.Context, id string) ([]Job, error) {
	return Collect(newPager[Job](s.c, "/workflow/"+url.PathEscape(id)+"/job", nil, 0, shortListPages).Items(ctx))
}

// Cancel cancels a running workflow.
func (s *WorkflowsService) Cancel(ctx context.Context, id string) error {
	return s.c.do(ctx, http.MethodPost, "/workflow/"+url.PathEscape(id)+"/cancel", nil, nil, nil)
}

// RerunRequest is the body of POST /workflow/{id}/rerun.
type RerunRequest struct {
	EnableSSH  bool     `json:"enable_ssh,omitempty"`
	FromFailed bool     `json:"from_failed,omitempty"`
	Jobs       []string `json:"jobs,omitempty"`
	SparseTree bool     `json:"sparse_tree,omitempty"`
}

// rerunResponse is what POST /workflow/{id}/rerun returns.
type rerunResponse struct {
	WorkflowID string `json:"workflow_id"`
}

// Rerun reruns a workflow and returns the new workflow's id.
func (s *WorkflowsService) Rerun(ctx context.Context, id string, req RerunRequest) (string, error) {
	out, err := call[rerunResponse](ctx, s.c, http.MethodPost, "/workflow/"+url.PathEscape(id)+"/rerun", req)
	return out.WorkflowID, err
}

// Approve approves a pending approval job.
func (s *WorkflowsService) Approve(ctx context.Context, id, approvalRequestID string) error {
	return s.c.do(ctx, http.MethodPost, "/workflow/"+url.PathEscape(id)+"/approve/"+url.PathEscape(approvalRequestID), nil, nil, nil)
}

// WorkflowURL is the workflow's page in the web app.
func (c *Client) WorkflowURL(w *Workflow) string {
	return c.PipelineURL(w.ProjectSlug, w.PipelineNumber) + "/workflows/" + url.PathEscape(w.ID)
}
