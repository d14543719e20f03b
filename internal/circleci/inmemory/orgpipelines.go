package inmemory

import (
	"sort"
	"strings"
)

// orgProjectLimit is how many projects CircleCI's organisation pipeline
// list covers: the most recently built ones.
const orgProjectLimit = 250

// listOrgPipelines answers GET /pipeline?org-slug=: the pipelines of the
// organisation's 250 most recently built projects, newest first (every
// followed project when org-slug is absent).
func (s *Server) listOrgPipelines(q request) answer {
	org := q.URL.Query().Get("org-slug")
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
	return s.pipelinePageLocked(q, ps)
}

// pipelinePageLocked answers one page of a pipeline list.
func (s *Server) pipelinePageLocked(q request, ps []*Pipeline) answer {
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
	return list(s, q, visible, s.pipelineJSON)
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
