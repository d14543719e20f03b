package inmemory

import (
	"net/http"
	"sort"
	"strings"
)

// orgProjectLimit is how many projects CircleCI's organisation pipeline
// list covers: the most recently built ones.
const orgProjectLimit = 250

// listOrgPipelines answers GET /pipeline?org-slug=: the pipelines of the
// organisation's 250 most recently built projects, newest first (every
// followed project when org-slug is absent).
func (s *Server) listOrgPipelines() handlerFunc {
	return func(r *http.Request, _ map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		org := r.URL.Query().Get("org-slug")
		var ps []*Pipeline
		kept := map[string]bool{} // projects, most recently built first
		for _, p := range s.newestFirstLocked() {
			proj := s.projects[p.ProjectSlug]
			if proj == nil || org != "" && !strings.EqualFold(proj.OrgSlug, org) {
				continue
			}
			if !kept[p.ProjectSlug] {
				if len(kept) == orgProjectLimit {
					continue // past the 250 most recently built projects
				}
				kept[p.ProjectSlug] = true
			}
			ps = append(ps, p)
		}
		return s.pipelinePageLocked(ps, r.URL.Query().Get("page-token"))
	}
}

// pipelinePageLocked answers one page of a pipeline list: paginated first,
// so only the page's pipelines are rendered.
func (s *Server) pipelinePageLocked(ps []*Pipeline, tok string) answer {
	// A list shows a new pipeline only once it is visible (ListLag).
	visible := ps
	if s.opts.ListLag > 0 {
		visible = nil
		for _, p := range ps {
			if s.visibleLocked(p.visibleAt) {
				visible = append(visible, p)
			}
		}
	}
	page, ok := paginate(visible, tok, s.opts.PageSize)
	if !ok {
		return msg(http.StatusBadRequest, "Invalid page-token.")
	}
	items := []map[string]any{}
	for _, p := range page["items"].([]*Pipeline) {
		items = append(items, s.pipelineJSON(p))
	}
	page["items"] = items
	return answer{http.StatusOK, page}
}

// newestFirstLocked is every pipeline by creation time, newest first; the
// order is kept until a pipeline is added.
func (s *Server) newestFirstLocked() []*Pipeline {
	if len(s.newestFirst) != len(s.pipelines) {
		s.newestFirst = append(s.newestFirst[:0], s.pipelines...)
		sort.SliceStable(s.newestFirst, func(i, j int) bool {
			a, b := s.newestFirst[i], s.newestFirst[j]
			if !a.CreatedAt.Equal(b.CreatedAt) {
				return a.CreatedAt.After(b.CreatedAt)
			}
			return a.ID > b.ID
		})
	}
	return s.newestFirst
}
