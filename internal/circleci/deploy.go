package circleci

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"time"
)

// DeployService covers CircleCI's deploy routes: deploy settings, the
// rollback pipeline, and deploy markers (components, environments,
// versions). These routes are newer than the published OpenAPI file; their
// shapes follow CircleCI's API documentation.
type DeployService struct{ c *Client }

// DeploySettings is GET /deploy/projects/{project_id}/settings. A pipeline
// definition that is not set is omitted by the API.
type DeploySettings struct {
	RollbackPipelineDefinitionID string `json:"rollback_pipeline_definition_id,omitempty"`
	DeployPipelineDefinitionID   string `json:"deploy_pipeline_definition_id,omitempty"`
}

// Settings returns a project's deploy settings.
func (s *DeployService) Settings(ctx context.Context, projectID string) (*DeploySettings, error) {
	return call[DeploySettings](ctx, s.c, http.MethodGet, "/deploy/projects/"+url.PathEscape(projectID)+"/settings", nil)
}

// RollbackRequest is the body of POST /projects/{project_id}/rollback.
type RollbackRequest struct {
	ComponentName   string         `json:"component_name"`
	CurrentVersion  string         `json:"current_version"`
	EnvironmentName string         `json:"environment_name"`
	TargetVersion   string         `json:"target_version"`
	Namespace       string         `json:"namespace,omitempty"`
	Reason          string         `json:"reason,omitempty"`
	Parameters      map[string]any `json:"parameters,omitempty"`
}

// RollbackResponse is what starting a rollback returns: the id of what it
// started (the rollback pipeline) and how it rolls back.
type RollbackResponse struct {
	ID           string `json:"id"`
	RollbackType string `json:"rollback_type"`
}

// Rollback runs the project's registered rollback pipeline.
func (s *DeployService) Rollback(ctx context.Context, projectID string, req RollbackRequest) (*RollbackResponse, error) {
	return call[RollbackResponse](ctx, s.c, http.MethodPost, "/projects/"+url.PathEscape(projectID)+"/rollback", req)
}

// Component is a deployed component (deploy markers).
type Component struct {
	ID           string    `json:"id"`
	Name         string    `json:"name"`
	ProjectID    string    `json:"project_id"`
	ReleaseCount int64     `json:"release_count"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// Environment is a deploy environment.
type Environment struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// ComponentVersion is one version of a component in an environment.
type ComponentVersion struct {
	Name           string    `json:"name"`
	EnvironmentID  string    `json:"environment_id"`
	Namespace      string    `json:"namespace,omitempty"`
	IsLive         bool      `json:"is_live"`
	PipelineID     string    `json:"pipeline_id"`
	WorkflowID     string    `json:"workflow_id"`
	JobID          string    `json:"job_id"`
	JobNumber      int64     `json:"job_number"`
	LastDeployedAt time.Time `json:"last_deployed_at"`
}

// Components iterates over an organization's components, optionally those
// of one project.
func (s *DeployService) Components(ctx context.Context, orgID, projectID string) iter.Seq2[Component, error] {
	q := url.Values{"org-id": {orgID}}
	if projectID != "" {
		q.Set("project-id", projectID)
	}
	return newPager[Component](s.c, "/deploy/components", q, 0, PageLimit).Items(ctx)
}

// Environments iterates over an organization's deploy environments.
func (s *DeployService) Environments(ctx context.Context, orgID string) iter.Seq2[Environment, error] {
	q := url.Values{"org-id": {orgID}}
	return newPager[Environment](s.c, "/deploy/environments", q, 0, PageLimit).Items(ctx)
}

// Versions iterates over a component's versions (newest deploy first),
// optionally in one environment, over at most maxPages pages (0: up to
// PageLimit, then an error): a search for a recent version looks no
// further back than the caller's bound.
func (s *DeployService) Versions(ctx context.Context, componentID, environmentID string, maxPages int) iter.Seq2[ComponentVersion, error] {
	q := url.Values{}
	if environmentID != "" {
		q.Set("environment-id", environmentID)
	}
	return newPager[ComponentVersion](s.c, "/deploy/components/"+url.PathEscape(componentID)+"/versions", q, maxPages, PageLimit).Items(ctx)
}
