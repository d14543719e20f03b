package circleci

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// JobsService covers /project/{slug}/job/{number} and job artifacts.
type JobsService struct{ c *Client }

// Job is a job as a workflow lists it (schema "Job").
type Job struct {
	CanceledBy        string              `json:"canceled_by,omitempty"`
	Dependencies      []string            `json:"dependencies"`
	JobNumber         *int64              `json:"job_number,omitempty"`
	ID                string              `json:"id"`
	StartedAt         *time.Time          `json:"started_at"`
	Name              string              `json:"name"`
	ApprovedBy        string              `json:"approved_by,omitempty"`
	ProjectSlug       string              `json:"project_slug"`
	Status            string              `json:"status"`
	Type              string              `json:"type"` // build or approval
	Requires          map[string][]string `json:"requires,omitempty"`
	StoppedAt         *time.Time          `json:"stopped_at,omitempty"`
	ApprovalRequestID string              `json:"approval_request_id,omitempty"`
}

// JobDetails is GET /project/{slug}/job/{number}.
type JobDetails struct {
	WebURL         string        `json:"web_url"`
	Project        JobProject    `json:"project"`
	ParallelRuns   []ParallelRun `json:"parallel_runs"`
	StartedAt      *time.Time    `json:"started_at"`
	LatestWorkflow JobWorkflow   `json:"latest_workflow"`
	Name           string        `json:"name"`
	Executor       struct {
		ResourceClass string `json:"resource_class"`
		Type          string `json:"type,omitempty"`
	} `json:"executor"`
	Parallelism int64  `json:"parallelism"`
	Status      string `json:"status"`
	Number      int64  `json:"number"`
	Pipeline    struct {
		ID string `json:"id"`
	} `json:"pipeline"`
	Duration     *int64 `json:"duration"`
	Organization struct {
		Name string `json:"name"`
	} `json:"organization"`
	Contexts []struct {
		Name string `json:"name"`
	} `json:"contexts"`
	Messages []struct {
		Type    string `json:"type"`
		Message string `json:"message"`
		Reason  string `json:"reason,omitempty"`
	} `json:"messages"`
	CreatedAt time.Time  `json:"created_at"`
	QueuedAt  time.Time  `json:"queued_at"`
	StoppedAt *time.Time `json:"stopped_at"`
}

// JobProject is the project a job belongs to.
type JobProject struct {
	ID          string `json:"id"`
	Slug        string `json:"slug"`
	Name        string `json:"name"`
	ExternalURL string `json:"external_url"`
}

// ParallelRun is the status of one parallel run of a job.
type ParallelRun struct {
	Index  int64  `json:"index"`
	Status string `json:"status"`
}

// JobWorkflow is the workflow a job last ran in.
type JobWorkflow struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Get returns a job's details by number.
func (s *JobsService) Get(ctx context.Context, projectSlug string, number int64) (*JobDetails, error) {
	return call[JobDetails](ctx, s.c, http.MethodGet, jobPath(projectSlug, number), nil)
}

func jobPath(projectSlug string, number int64) string {
	return "/project/" + pathEscape(projectSlug) + "/job/" + strconv.FormatInt(number, 10)
}

// Cancel cancels a job by number.
func (s *JobsService) Cancel(ctx context.Context, projectSlug string, number int64) error {
	return s.c.do(ctx, http.MethodPost, jobPath(projectSlug, number)+"/cancel", nil, nil, nil)
}

// Artifact is one file a job stored with store_artifacts.
type Artifact struct {
	Path      string `json:"path"`
	NodeIndex int64  `json:"node_index"`
	URL       string `json:"url"`
}

// Artifacts iterates over every artifact of a job.
func (s *JobsService) Artifacts(ctx context.Context, projectSlug string, number int64) iter.Seq2[Artifact, error] {
	return newPager[Artifact](s.c, "/project/"+pathEscape(projectSlug)+"/"+strconv.FormatInt(number, 10)+"/artifacts", nil, 0, PageLimit).Items(ctx)
}

// Download fetches an artifact's content (at most limit bytes; 0 means
// 16 MiB). Artifact URLs need the same token.
func (s *JobsService) Download(ctx context.Context, a Artifact, limit int64) ([]byte, error) {
	if limit <= 0 {
		limit = maxBody
	}
	return s.c.download(ctx, a.URL, limit)
}

// JobURL is a job's page in the web app.
func (c *Client) JobURL(projectSlug string, number int64) string {
	return c.AppURL() + "/pipelines/" + pathEscape(projectSlug) + "/jobs/" + url.PathEscape(strconv.FormatInt(number, 10))
}
