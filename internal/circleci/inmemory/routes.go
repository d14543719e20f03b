package inmemory

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

type handlerFunc func(r *http.Request, params map[string]string, body []byte) answer

type routeEntry struct {
	method   string
	template string
	newer    bool // not in the published spec: a newer CircleCI route
	h        func(s *Server) handlerFunc
}

// routes lists every operation the server serves, by the spec's template.
// Order matters where templates overlap (pipeline/run before pipeline/{n}).
var routes = []routeEntry{
	{"GET", "/project/{project-slug}", false, (*Server).getProject},
	{"GET", "/project/{project-slug}/pipeline", false, (*Server).listPipelines},
	{"POST", "/project/{project-slug}/pipeline", false, (*Server).triggerPipeline},
	{"POST", "/project/{provider}/{organization}/{project}/pipeline/run", false, (*Server).runPipeline},
	{"GET", "/project/{project-slug}/pipeline/{pipeline-number}", false, (*Server).getPipelineByNumber},
	{"GET", "/project/{project-slug}/job/{job-number}", false, (*Server).getJob},
	{"GET", "/project/{project-slug}/{job-number}/artifacts", false, (*Server).listArtifacts},
	{"GET", "/pipeline", false, (*Server).listOrgPipelines},
	{"GET", "/pipeline/{pipeline-id}", false, (*Server).getPipeline},
	{"GET", "/pipeline/{pipeline-id}/workflow", false, (*Server).listWorkflows},
	{"GET", "/workflow/{id}", false, (*Server).getWorkflow},
	{"GET", "/workflow/{id}/job", false, (*Server).listJobs},
	{"POST", "/workflow/{id}/cancel", false, (*Server).cancelWorkflow},
	{"POST", "/workflow/{id}/rerun", false, (*Server).rerunWorkflow},
	{"GET", "/insights/{project-slug}/workflows/{workflow-name}", false, (*Server).workflowRuns},
	{"GET", "/deploy/projects/{project_id}/settings", true, (*Server).deploySettings},
	{"POST", "/projects/{project_id}/rollback", true, (*Server).rollback},
	{"GET", "/projects/{project_id}/pipeline-definitions", true, (*Server).definitions},
	{"GET", "/deploy/components", true, (*Server).components},
	{"GET", "/deploy/environments", true, (*Server).environmentsList},
	{"GET", "/deploy/components/{component_id}/versions", true, (*Server).versions},
}

// route finds the operation for a request. A project slug takes three path
// segments (vcs/org/repo), as CircleCI's slugs do.
func (s *Server) route(method, path string) (Route, handlerFunc) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, e := range routes {
		if e.method != method {
			continue
		}
		if params, ok := match(e.template, segs); ok {
			return Route{Method: method, Template: e.template, Params: params, Newer: e.newer}, e.h(s)
		}
	}
	return Route{Method: method}, nil
}

func match(template string, segs []string) (map[string]string, bool) {
	tsegs := strings.Split(strings.Trim(template, "/"), "/")
	params := map[string]string{}
	i := 0
	for _, t := range tsegs {
		if i >= len(segs) {
			return nil, false
		}
		switch {
		case t == "{project-slug}":
			if i+3 > len(segs) {
				return nil, false
			}
			params["project-slug"] = strings.Join(segs[i:i+3], "/")
			i += 3
		case strings.HasPrefix(t, "{"):
			if segs[i] == "" {
				return nil, false
			}
			params[strings.Trim(t, "{}")] = segs[i]
			i++
		default:
			if segs[i] != t {
				return nil, false
			}
			i++
		}
	}
	return params, i == len(segs)
}

// --- JSON shapes (field names and required fields as the spec has them) ---

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

func (s *Server) pipelineJSON(p *Pipeline) map[string]any {
	vcs := map[string]any{
		"provider_name":         "GitHub",
		"origin_repository_url": "https://github.com/" + repoOf(p.ProjectSlug),
		"target_repository_url": "https://github.com/" + repoOf(p.ProjectSlug),
		"revision":              p.Revision,
		"commit":                map[string]any{"subject": nilIfEmpty(p.Subject), "body": nil},
	}
	if p.Branch != "" {
		vcs["branch"] = p.Branch
	}
	if p.Tag != "" {
		vcs["tag"] = p.Tag
	}
	errs := []map[string]any{}
	for _, e := range p.Errors {
		errs = append(errs, map[string]any{"type": e.Type, "message": e.Message})
	}
	out := map[string]any{
		"id":           p.ID,
		"errors":       errs,
		"project_slug": p.ProjectSlug,
		"updated_at":   ts(p.CreatedAt),
		"number":       p.Number,
		"state":        orCreated(p.State),
		"created_at":   ts(p.CreatedAt),
		"trigger": map[string]any{
			"type":        p.TriggerType,
			"received_at": ts(p.CreatedAt),
			"actor":       map[string]any{"login": p.Actor, "avatar_url": nil},
		},
		"vcs": vcs,
	}
	// Parameters given at trigger time are reported in trigger_parameters.
	if len(p.Params) > 0 {
		out["trigger_parameters"] = p.Params
	}
	return out
}

func orCreated(state string) string {
	if state == "" {
		return "created"
	}
	return state
}

// visibleLocked reports whether list answers show an item created through
// the API yet (Options.ListLag).
func (s *Server) visibleLocked(at time.Time) bool {
	return at.IsZero() || !s.opts.Now().Before(at)
}

func repoOf(slug string) string {
	parts := strings.SplitN(slug, "/", 2)
	if len(parts) == 2 {
		return parts[1]
	}
	return slug
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *Server) workflowJSON(w *Workflow) map[string]any {
	out := map[string]any{
		"pipeline_id":     w.Pipeline.ID,
		"id":              w.ID,
		"name":            w.Name,
		"project_slug":    w.Pipeline.ProjectSlug,
		"status":          s.statusLocked(w),
		"started_by":      w.StartedBy,
		"pipeline_number": w.Pipeline.Number,
		"created_at":      ts(w.CreatedAt),
		"stopped_at":      nil,
	}
	if at := s.stoppedAtLocked(w); at != nil {
		out["stopped_at"] = ts(*at)
	}
	if w.Canceled != nil {
		out["canceled_by"] = w.StartedBy
	}
	return out
}

func (s *Server) jobStatusLocked(j *Job) string {
	if j.Status != "" && j.Workflow.Canceled == nil {
		return j.Status
	}
	switch st := s.statusLocked(j.Workflow); st {
	case "success", "failed", "running", "canceled", "on_hold", "unauthorized", "not_run":
		return st
	case "error":
		return "infrastructure_fail"
	default:
		return "running"
	}
}

func (s *Server) jobJSON(j *Job) map[string]any {
	out := map[string]any{
		"dependencies": []string{},
		"job_number":   j.Number,
		"id":           j.ID,
		"started_at":   ts(j.Workflow.CreatedAt),
		"name":         j.Name,
		"project_slug": j.Workflow.Pipeline.ProjectSlug,
		"status":       s.jobStatusLocked(j),
		"type":         "build",
	}
	if at := s.stoppedAtLocked(j.Workflow); at != nil {
		out["stopped_at"] = ts(*at)
	}
	return out
}

// --- handlers ---

func (s *Server) getProject() handlerFunc {
	return func(_ *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.projects[params["project-slug"]]
		if p == nil {
			return msg(http.StatusNotFound, "Project not found")
		}
		return answer{http.StatusOK, map[string]any{
			"slug": p.Slug, "name": p.Name, "id": p.ID, "organization_name": p.OrgName,
			"organization_slug": p.OrgSlug, "organization_id": p.OrgID,
			"vcs_info": map[string]any{"vcs_url": p.VCSURL, "provider": p.Provider, "default_branch": p.DefBranch},
		}}
	}
}

func (s *Server) listPipelines() handlerFunc {
	return func(r *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		slug := params["project-slug"]
		if s.projects[slug] == nil {
			return msg(http.StatusNotFound, "Project not found")
		}
		return s.pipelinePageLocked(s.projectPipelinesLocked(slug, r.URL.Query().Get("branch")), r.URL.Query().Get("page-token"))
	}
}

func (s *Server) findPipelineLocked(id string) *Pipeline {
	if p, ok := s.pipelineByID[id]; ok {
		return p
	}
	for _, p := range s.pipelines {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (s *Server) getPipeline() handlerFunc {
	return func(_ *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.findPipelineLocked(params["pipeline-id"])
		if p == nil {
			return msg(http.StatusNotFound, "Pipeline not found")
		}
		return answer{http.StatusOK, s.pipelineJSON(p)}
	}
}

func (s *Server) getPipelineByNumber() handlerFunc {
	return func(_ *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		n, _ := strconv.ParseInt(params["pipeline-number"], 10, 64)
		for _, p := range s.pipelines {
			if p.ProjectSlug == params["project-slug"] && p.Number == n {
				return answer{http.StatusOK, s.pipelineJSON(p)}
			}
		}
		return msg(http.StatusNotFound, "Pipeline not found")
	}
}

func (s *Server) listWorkflows() handlerFunc {
	return func(r *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.findPipelineLocked(params["pipeline-id"])
		if p == nil {
			return msg(http.StatusNotFound, "Pipeline not found")
		}
		var items []map[string]any
		// Newest first, as CircleCI lists them.
		for i := len(p.Workflows) - 1; i >= 0; i-- {
			if s.visibleLocked(p.Workflows[i].visibleAt) {
				items = append(items, s.workflowJSON(p.Workflows[i]))
			}
		}
		page, ok := paginate(items, r.URL.Query().Get("page-token"), s.opts.PageSize)
		if !ok {
			return msg(http.StatusBadRequest, "Invalid page-token.")
		}
		return answer{http.StatusOK, page}
	}
}

func (s *Server) getWorkflow() handlerFunc {
	return func(_ *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		w := s.workflows[params["id"]]
		if w == nil {
			return msg(http.StatusNotFound, "Workflow not found")
		}
		return answer{http.StatusOK, s.workflowJSON(w)}
	}
}

func (s *Server) listJobs() handlerFunc {
	return func(r *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		w := s.workflows[params["id"]]
		if w == nil {
			return msg(http.StatusNotFound, "Workflow not found")
		}
		var items []map[string]any
		for _, j := range w.Jobs {
			items = append(items, s.jobJSON(j))
		}
		page, ok := paginate(items, r.URL.Query().Get("page-token"), s.opts.PageSize)
		if !ok {
			return msg(http.StatusBadRequest, "Invalid page-token.")
		}
		return answer{http.StatusOK, page}
	}
}

func (s *Server) cancelWorkflow() handlerFunc {
	return func(_ *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		w := s.workflows[params["id"]]
		if w == nil {
			return msg(http.StatusNotFound, "Workflow not found")
		}
		switch s.statusLocked(w) {
		case "running", "on_hold", "failing":
			now := s.opts.Now()
			w.Canceled = &now
		}
		return answer{http.StatusAccepted, map[string]string{"message": "Accepted."}}
	}
}

func (s *Server) rerunWorkflow() handlerFunc {
	return func(_ *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		w := s.workflows[params["id"]]
		if w == nil {
			return msg(http.StatusNotFound, "Workflow not found")
		}
		tl := Ends(time.Minute, "success")
		if s.opts.OnRerun != nil {
			tl = s.opts.OnRerun(w)
		}
		nw := s.addWorkflowLocked(w.Pipeline, WorkflowSeed{Name: w.Name, Timeline: tl}, s.opts.Now())
		nw.RerunOf = w.ID
		if s.opts.ListLag > 0 {
			nw.visibleAt = s.opts.Now().Add(s.opts.ListLag)
		}
		return answer{http.StatusAccepted, map[string]string{"workflow_id": nw.ID}}
	}
}

// headOf is the revision a branch or tag points at: that of its newest
// pipeline, as a stand-in for the repository.
func (s *Server) headOfLocked(slug, branch, tag string) string {
	for _, p := range s.projectPipelinesLocked(slug, "") {
		if (branch != "" && p.Branch == branch) || (tag != "" && p.Tag == tag) {
			return p.Revision
		}
	}
	return ""
}

func (s *Server) startLocked(slug, branch, tag string, params map[string]any) *Pipeline {
	seed := PipelineSeed{Branch: branch, Tag: tag, Revision: s.headOfLocked(slug, branch, tag), Params: params, TriggerType: "api", Actor: "pmguard-bot"}
	p := s.addPipelineLocked(slug, seed)
	if s.opts.ListLag > 0 {
		p.visibleAt = p.CreatedAt.Add(s.opts.ListLag)
	}
	var wfs []WorkflowSeed
	if s.opts.OnTrigger != nil {
		wfs = s.opts.OnTrigger(p)
	} else {
		wfs = []WorkflowSeed{{Name: "deploy", Timeline: Ends(time.Minute, "success")}}
	}
	for _, ws := range wfs {
		s.addWorkflowLocked(p, ws, p.CreatedAt)
	}
	return p
}

func creation(p *Pipeline) map[string]any {
	return map[string]any{"id": p.ID, "state": "created", "number": p.Number, "created_at": ts(p.CreatedAt)}
}

func (s *Server) triggerPipeline() handlerFunc {
	return func(_ *http.Request, params map[string]string, body []byte) answer {
		var req struct {
			Branch     string         `json:"branch"`
			Tag        string         `json:"tag"`
			Parameters map[string]any `json:"parameters"`
		}
		if len(body) > 0 && json.Unmarshal(body, &req) != nil {
			return msg(http.StatusBadRequest, "Unexpected request body provided.")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		slug := params["project-slug"]
		if s.projects[slug] == nil {
			return msg(http.StatusNotFound, "Project not found")
		}
		if req.Branch != "" && req.Tag != "" {
			return msg(http.StatusBadRequest, "branch and tag are mutually exclusive")
		}
		if req.Branch == "" && req.Tag == "" {
			req.Branch = s.projects[slug].DefBranch
		}
		return answer{http.StatusCreated, creation(s.startLocked(slug, req.Branch, req.Tag, req.Parameters))}
	}
}

func (s *Server) runPipeline() handlerFunc {
	return func(_ *http.Request, params map[string]string, body []byte) answer {
		var req struct {
			DefinitionID string `json:"definition_id"`
			Checkout     *struct {
				Branch string `json:"branch"`
				Tag    string `json:"tag"`
			} `json:"checkout"`
			Parameters map[string]any `json:"parameters"`
		}
		if json.Unmarshal(body, &req) != nil {
			return msg(http.StatusBadRequest, "Unexpected request body provided.")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		slug := params["provider"] + "/" + params["organization"] + "/" + params["project"]
		pr := s.projects[slug]
		if pr == nil {
			return msg(http.StatusNotFound, "Project not found")
		}
		found := false
		for _, d := range pr.Definitions {
			found = found || d.ID == req.DefinitionID
		}
		if !found {
			return msg(http.StatusNotFound, "Pipeline definition not found")
		}
		branch, tag := pr.DefBranch, ""
		if req.Checkout != nil {
			branch, tag = req.Checkout.Branch, req.Checkout.Tag
		}
		return answer{http.StatusCreated, creation(s.startLocked(slug, branch, tag, req.Parameters))}
	}
}

func (s *Server) projectByIDLocked(id string) *Project {
	for _, p := range s.projects {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (s *Server) deploySettings() handlerFunc {
	return func(_ *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.projectByIDLocked(params["project_id"])
		if p == nil {
			return msg(http.StatusNotFound, "Project not found")
		}
		out := map[string]any{}
		if p.RollbackDefinitionID != "" {
			out["rollback_pipeline_definition_id"] = p.RollbackDefinitionID
		}
		if p.DeployDefinitionID != "" {
			out["deploy_pipeline_definition_id"] = p.DeployDefinitionID
		}
		return answer{http.StatusOK, out}
	}
}

func (s *Server) rollback() handlerFunc {
	return func(_ *http.Request, params map[string]string, body []byte) answer {
		var req struct {
			ComponentName   string         `json:"component_name"`
			EnvironmentName string         `json:"environment_name"`
			CurrentVersion  string         `json:"current_version"`
			TargetVersion   string         `json:"target_version"`
			Parameters      map[string]any `json:"parameters"`
		}
		if json.Unmarshal(body, &req) != nil {
			return msg(http.StatusBadRequest, "Unexpected request body provided.")
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.projectByIDLocked(params["project_id"])
		if p == nil {
			return msg(http.StatusNotFound, "Project not found")
		}
		if p.RollbackDefinitionID == "" {
			return msg(http.StatusBadRequest, "No rollback pipeline is set up for this project.")
		}
		pl := s.startLocked(p.Slug, p.DefBranch, "", req.Parameters)
		return answer{http.StatusAccepted, map[string]any{"id": pl.ID, "rollback_type": "PIPELINE"}}
	}
}

func (s *Server) definitions() handlerFunc {
	return func(_ *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		p := s.projectByIDLocked(params["project_id"])
		if p == nil {
			return msg(http.StatusNotFound, "Project not found")
		}
		items := []map[string]any{}
		for _, d := range p.Definitions {
			items = append(items, map[string]any{"id": d.ID, "name": d.Name, "description": d.Description, "created_at": ts(d.CreatedAt)})
		}
		return answer{http.StatusOK, map[string]any{"items": items}}
	}
}

func (s *Server) components() handlerFunc {
	return func(r *http.Request, _ map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		q := r.URL.Query()
		var items []map[string]any
		for _, c := range s.comps {
			p := s.projectByIDLocked(c.ProjectID)
			if p == nil || p.OrgID != q.Get("org-id") || (q.Get("project-id") != "" && c.ProjectID != q.Get("project-id")) {
				continue
			}
			items = append(items, map[string]any{"id": c.ID, "name": c.Name, "project_id": c.ProjectID, "labels": []any{},
				"release_count": len(c.Versions), "created_at": ts(epoch), "updated_at": ts(epoch)})
		}
		page, ok := paginate(items, q.Get("page-token"), s.opts.PageSize)
		if !ok {
			return msg(http.StatusBadRequest, "Invalid page-token.")
		}
		return answer{http.StatusOK, page}
	}
}

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *Server) environmentsList() handlerFunc {
	return func(r *http.Request, _ map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		q := r.URL.Query()
		var items []map[string]any
		for _, e := range s.environments {
			if e.OrgID == q.Get("org-id") {
				t := ts(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
				items = append(items, map[string]any{"id": e.ID, "name": e.Name, "labels": []any{}, "created_at": t, "updated_at": t})
			}
		}
		page, ok := paginate(items, q.Get("page-token"), s.opts.PageSize)
		if !ok {
			return msg(http.StatusBadRequest, "Invalid page-token.")
		}
		return answer{http.StatusOK, page}
	}
}

func (s *Server) versions() handlerFunc {
	return func(r *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		q := r.URL.Query()
		var c *Component
		for _, x := range s.comps {
			if x.ID == params["component_id"] {
				c = x
			}
		}
		if c == nil {
			return msg(http.StatusNotFound, "Component not found")
		}
		var items []map[string]any
		for _, v := range c.Versions {
			if q.Get("environment-id") != "" && v.EnvironmentID != q.Get("environment-id") {
				continue
			}
			items = append(items, map[string]any{"name": v.Name, "environment_id": v.EnvironmentID, "namespace": v.Namespace,
				"is_live": v.IsLive, "pipeline_id": v.PipelineID, "workflow_id": v.WorkflowID, "job_id": v.JobID,
				"job_number": v.JobNumber, "last_deployed_at": ts(v.LastDeployedAt)})
		}
		page, ok := paginate(items, q.Get("page-token"), s.opts.PageSize)
		if !ok {
			return msg(http.StatusBadRequest, "Invalid page-token.")
		}
		return answer{http.StatusOK, page}
	}
}

func (s *Server) findJobLocked(slug string, number int64) *Job {
	for _, j := range s.jobs {
		if j.Number == number && j.Workflow.Pipeline.ProjectSlug == slug {
			return j
		}
	}
	return nil
}

func (s *Server) getJob() handlerFunc {
	return func(r *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		n, _ := strconv.ParseInt(params["job-number"], 10, 64)
		j := s.findJobLocked(params["project-slug"], n)
		if j == nil {
			return msg(http.StatusNotFound, "Job not found")
		}
		p := s.projects[params["project-slug"]]
		w := j.Workflow
		out := map[string]any{
			"web_url":         "https://app.circleci.com/pipelines/" + p.Slug + "/jobs/" + params["job-number"],
			"project":         map[string]any{"id": p.ID, "slug": p.Slug, "name": p.Name, "external_url": p.VCSURL},
			"parallel_runs":   []map[string]any{{"index": 0, "status": s.jobStatusLocked(j)}},
			"started_at":      ts(w.CreatedAt),
			"latest_workflow": map[string]any{"id": w.ID, "name": w.Name},
			"name":            j.Name,
			"executor":        map[string]any{"resource_class": "medium", "type": "docker"},
			"parallelism":     1,
			"status":          s.jobStatusLocked(j),
			"number":          j.Number,
			"pipeline":        map[string]any{"id": w.Pipeline.ID},
			"duration":        nil,
			"created_at":      ts(w.CreatedAt),
			"messages":        []any{},
			"contexts":        []any{},
			"organization":    map[string]any{"name": p.OrgName},
			"queued_at":       ts(w.CreatedAt),
			"stopped_at":      nil,
		}
		if at := s.stoppedAtLocked(w); at != nil {
			out["stopped_at"] = ts(*at)
			out["duration"] = at.Sub(w.CreatedAt).Milliseconds()
		}
		return answer{http.StatusOK, out}
	}
}

func (s *Server) listArtifacts() handlerFunc {
	return func(r *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		n, _ := strconv.ParseInt(params["job-number"], 10, 64)
		j := s.findJobLocked(params["project-slug"], n)
		if j == nil {
			return msg(http.StatusNotFound, "Job not found")
		}
		items := []map[string]any{}
		for _, a := range j.Artifacts {
			items = append(items, map[string]any{"path": a.Path, "node_index": 0,
				"url": "http://" + r.Host + "/api/v2/__artifacts/" + j.ID + "/" + a.Path})
		}
		page, ok := paginate(items, r.URL.Query().Get("page-token"), s.opts.PageSize)
		if !ok {
			return msg(http.StatusBadRequest, "Invalid page-token.")
		}
		return answer{http.StatusOK, page}
	}
}

func (s *Server) workflowRuns() handlerFunc {
	return func(r *http.Request, params map[string]string, _ []byte) answer {
		s.mu.Lock()
		defer s.mu.Unlock()
		slug := params["project-slug"]
		p := s.projects[slug]
		if p == nil {
			return msg(http.StatusNotFound, "Project not found")
		}
		q := r.URL.Query()
		branch := q.Get("branch")
		if branch == "" && q.Get("all-branches") != "true" {
			branch = p.DefBranch
		}
		var items []map[string]any
		for _, pl := range s.projectPipelinesLocked(slug, branch) {
			for i := len(pl.Workflows) - 1; i >= 0; i-- {
				w := pl.Workflows[i]
				st := s.statusLocked(w)
				at := s.stoppedAtLocked(w)
				if w.Name != params["workflow-name"] || at == nil || st == "not_run" {
					continue
				}
				items = append(items, map[string]any{"id": w.ID, "branch": pl.Branch, "duration": int64(at.Sub(w.CreatedAt).Seconds()),
					"created_at": ts(w.CreatedAt), "stopped_at": ts(*at), "credits_used": 10, "status": st, "is_approval": false})
			}
		}
		page, ok := paginate(items, q.Get("page-token"), s.opts.PageSize)
		if !ok {
			return msg(http.StatusBadRequest, "Invalid page-token.")
		}
		return answer{http.StatusOK, page}
	}
}
