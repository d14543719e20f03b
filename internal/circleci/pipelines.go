package circleci

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// PipelinesService covers /pipeline, /project/{slug}/pipeline and
// /project/{provider}/{org}/{project}/pipeline/run.
type PipelinesService struct{ c *Client }

// Pipeline is a pipeline as the API returns it (schema "Pipeline").
type Pipeline struct {
	ID                string          `json:"id"`
	Errors            []PipelineError `json:"errors"`
	ProjectSlug       string          `json:"project_slug"`
	UpdatedAt         *time.Time      `json:"updated_at,omitempty"`
	Number            int64           `json:"number"`
	TriggerParameters map[string]any  `json:"trigger_parameters,omitempty"`
	State             string          `json:"state"`
	CreatedAt         time.Time       `json:"created_at"`
	Trigger           Trigger         `json:"trigger"`
	VCS               *VCS            `json:"vcs,omitempty"`
}

// PipelineError is one error recorded on a pipeline.
type PipelineError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// Trigger says how a pipeline was started.
type Trigger struct {
	Type       string    `json:"type"` // scheduled_pipeline, explicit, api, webhook
	ReceivedAt time.Time `json:"received_at"`
	Actor      Actor     `json:"actor"`
}

// Actor is the user who triggered a pipeline.
type Actor struct {
	Login     string  `json:"login"`
	AvatarURL *string `json:"avatar_url"`
}

// VCS is the code a pipeline ran.
type VCS struct {
	ProviderName        string  `json:"provider_name"`
	TargetRepositoryURL string  `json:"target_repository_url"`
	OriginRepositoryURL string  `json:"origin_repository_url"`
	Branch              string  `json:"branch,omitempty"`
	Tag                 string  `json:"tag,omitempty"`
	Revision            string  `json:"revision"`
	ReviewID            string  `json:"review_id,omitempty"`
	ReviewURL           string  `json:"review_url,omitempty"`
	Commit              *Commit `json:"commit,omitempty"`
}

// Commit is the subject and body of a pipeline's commit message.
type Commit struct {
	Subject *string `json:"subject"`
	Body    *string `json:"body"`
}

// Branch is the pipeline's branch, or "".
func (p *Pipeline) Branch() string {
	if p.VCS == nil {
		return ""
	}
	return p.VCS.Branch
}

// Revision is the pipeline's commit SHA, or "".
func (p *Pipeline) Revision() string {
	if p.VCS == nil {
		return ""
	}
	return p.VCS.Revision
}

// Tag is the pipeline's git tag, or "".
func (p *Pipeline) Tag() string {
	if p.VCS == nil {
		return ""
	}
	return p.VCS.Tag
}

// Param returns a trigger parameter and whether it is set.
func (p *Pipeline) Param(name string) (any, bool) {
	v, ok := p.TriggerParameters[name]
	return v, ok
}

// StringParam returns a trigger parameter as text ("" when unset); CircleCI
// passes parameters as JSON, so a number or boolean is formatted.
func (p *Pipeline) StringParam(name string) string {
	v, ok := p.Param(name)
	if !ok || v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return strings.TrimSpace(s)
	}
	return fmt.Sprint(v)
}

// BoolParam reports whether a trigger parameter is set to true (true, "true",
// "1" or a non-zero number: pipeline parameters arrive typed or as text).
func (p *Pipeline) BoolParam(name string) bool {
	v, _ := p.Param(name)
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return x == "true" || x == "1"
	case float64:
		return x != 0
	}
	return false
}

// ListPipelinesOptions filters a project's pipelines.
type ListPipelinesOptions struct {
	Branch string // only this branch; "" for all
}

// Pager reads a project's pipelines page by page, newest first. maxPages > 0
// ends the walk quietly after that many pages; 0 follows up to PageLimit.
func (s *PipelinesService) Pager(projectSlug string, opts *ListPipelinesOptions, maxPages int) *Pager[Pipeline] {
	q := url.Values{}
	if opts != nil && opts.Branch != "" {
		q.Set("branch", opts.Branch)
	}
	return newPager[Pipeline](s.c, "/project/"+pathEscape(projectSlug)+"/pipeline", q, maxPages, PageLimit)
}

// Pages iterates over pages of a project's pipelines, newest first (see
// Pager for maxPages).
func (s *PipelinesService) Pages(ctx context.Context, projectSlug string, opts *ListPipelinesOptions, maxPages int) iter.Seq2[*Page[Pipeline], error] {
	return s.Pager(projectSlug, opts, maxPages).All(ctx)
}

// All iterates over a project's pipelines, newest first (see Pager for
// maxPages).
func (s *PipelinesService) All(ctx context.Context, projectSlug string, opts *ListPipelinesOptions, maxPages int) iter.Seq2[Pipeline, error] {
	return s.Pager(projectSlug, opts, maxPages).Items(ctx)
}

// Get returns a pipeline by id.
func (s *PipelinesService) Get(ctx context.Context, id string) (*Pipeline, error) {
	return call[Pipeline](ctx, s.c, http.MethodGet, "/pipeline/"+url.PathEscape(id), nil)
}

// GetByNumber returns a project's pipeline by number.
func (s *PipelinesService) GetByNumber(ctx context.Context, projectSlug string, number int64) (*Pipeline, error) {
	return call[Pipeline](ctx, s.c, http.MethodGet, "/project/"+pathEscape(projectSlug)+"/pipeline/"+strconv.FormatInt(number, 10), nil)
}

// Workflows returns every workflow of a pipeline.
func (s *PipelinesService) Workflows(ctx context.Context, pipelineID string) ([]Workflow, error) {
	return Collect(newPager[Workflow](s.c, "/pipeline/"+url.PathEscape(pipelineID)+"/workflow", nil, 0, shortListPages).Items(ctx))
}

// TriggerRequest is the body of the legacy trigger (POST
// /project/{slug}/pipeline): a branch or a tag, and pipeline parameters.
type TriggerRequest struct {
	Branch     string         `json:"branch,omitempty"`
	Tag        string         `json:"tag,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// PipelineCreation is what a trigger returns.
type PipelineCreation struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	Number    int64     `json:"number"`
	CreatedAt time.Time `json:"created_at"`
}

// Trigger starts a pipeline with the legacy endpoint, used by GitHub OAuth
// and Bitbucket projects.
func (s *PipelinesService) Trigger(ctx context.Context, projectSlug string, req TriggerRequest) (*PipelineCreation, error) {
	return call[PipelineCreation](ctx, s.c, http.MethodPost, "/project/"+pathEscape(projectSlug)+"/pipeline", req)
}

// RunRequest is the body of POST /project/{provider}/{org}/{project}/pipeline/run.
type RunRequest struct {
	DefinitionID string         `json:"definition_id,omitempty"`
	Config       *Ref           `json:"config,omitempty"`
	Checkout     *Ref           `json:"checkout,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
}

// Ref is a branch or a tag.
type Ref struct {
	Branch string `json:"branch,omitempty"`
	Tag    string `json:"tag,omitempty"`
}

// Run starts a pipeline from a pipeline definition.
func (s *PipelinesService) Run(ctx context.Context, projectSlug string, req RunRequest) (*PipelineCreation, error) {
	return call[PipelineCreation](ctx, s.c, http.MethodPost, "/project/"+pathEscape(projectSlug)+"/pipeline/run", req)
}

// PipelineDefinition is one of a project's pipeline definitions.
type PipelineDefinition struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
}

// Definitions lists a project's pipeline definitions (GET
// /projects/{project_id}/pipeline-definitions; newer than the published spec).
func (s *PipelinesService) Definitions(ctx context.Context, projectID string) ([]PipelineDefinition, error) {
	page, err := call[Page[PipelineDefinition]](ctx, s.c, http.MethodGet, "/projects/"+url.PathEscape(projectID)+"/pipeline-definitions", nil)
	return page.Items, err
}

// URL is the pipeline's page in the web app.
func (c *Client) PipelineURL(projectSlug string, number int64) string {
	return c.AppURL() + "/pipelines/" + pathEscape(projectSlug) + "/" + strconv.FormatInt(number, 10)
}
