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
		latest := map[string]int64{}
		for _, p := range s.pipelines {
			proj := s.projects[p.ProjectSlug]
			if proj == nil || org != "" && !strings.EqualFold(proj.OrgSlug, org) {
				continue
			}
			ps = append(ps, p)
			if t := p.CreatedAt.UnixNano(); t > latest[p.ProjectSlug] {
				latest[p.ProjectSlug] = t
			}
		}
		if len(latest) > orgProjectLimit {
			slugs := make([]string, 0, len(latest))
			for sl := range latest {
				slugs = append(slugs, sl)
			}
			sort.Slice(slugs, func(i, j int) bool { return latest[slugs[i]] > latest[slugs[j]] })
			keep := map[string]bool{}
			for _, sl := range slugs[:orgProjectLimit] {
				keep[sl] = true
			}
			kept := ps[:0]
			for _, p := range ps {
				if keep[p.ProjectSlug] {
					kept = append(kept, p)
				}
			}
			ps = kept
		}
		sort.SliceStable(ps, func(i, j int) bool {
			if !ps[i].CreatedAt.Equal(ps[j].CreatedAt) {
				return ps[i].CreatedAt.After(ps[j].CreatedAt)
			}
			return ps[i].ID > ps[j].ID
		})
		return s.pipelinePageLocked(ps, r.URL.Query().Get("page-token"))
	}
}

// pipelinePageLocked answers one page of a pipeline list: paginated first,
// so only the page's pipelines are rendered.
func (s *Server) pipelinePageLocked(ps []*Pipeline, tok string) answer {
	page, ok := paginate(ps, tok, s.opts.PageSize)
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
