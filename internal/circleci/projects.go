package circleci

import (
	"context"
	"net/http"
	"strings"
)

// ProjectsService covers /project/{slug}.
type ProjectsService struct{ c *Client }

// Project is a project as the API returns it (schema "Project").
type Project struct {
	Slug             string  `json:"slug"`
	Name             string  `json:"name"`
	ID               string  `json:"id"`
	OrganizationName string  `json:"organization_name"`
	OrganizationSlug string  `json:"organization_slug"`
	OrganizationID   string  `json:"organization_id"`
	VCSInfo          VCSInfo `json:"vcs_info"`
}

// VCSInfo is where a project's code lives.
type VCSInfo struct {
	VCSURL        string `json:"vcs_url"`
	Provider      string `json:"provider"` // Bitbucket, CircleCI, GitHub
	DefaultBranch string `json:"default_branch"`
}

// Get returns a project by slug (gh/org/repo, bb/org/repo, or
// circleci/<org id>/<project id> for GitHub App and GitLab projects).
func (s *ProjectsService) Get(ctx context.Context, projectSlug string) (*Project, error) {
	return call[Project](ctx, s.c, http.MethodGet, "/project/"+pathEscape(projectSlug), nil)
}

// SupportsLegacyTrigger reports whether a project slug belongs to a GitHub
// OAuth or Bitbucket project, the ones POST /project/{slug}/pipeline can
// trigger with a branch or tag.
func SupportsLegacyTrigger(projectSlug string) bool {
	vcs, _, _ := strings.Cut(projectSlug, "/")
	switch vcs {
	case "gh", "github", "bb", "bitbucket":
		return true
	}
	return false
}
