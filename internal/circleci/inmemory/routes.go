package inmemory

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// request is one request to a route: the request, its path parameters (by
// the names the spec's template uses) and its body.
type request struct {
	*http.Request
	params map[string]string
	body   []byte
}

// handler answers a request to a route; the server's lock is held.
type handler func(s *Server, q request) answer

type routeEntry struct {
	method   string
	template string
	newer    bool // not in the published spec: a newer CircleCI route
	h        handler
}

// routes lists every operation the server serves, by the spec's template.
var routes = []routeEntry{
	{"GET", "/project/{project-slug}", false, with(projectBySlug, (*Server).getProject)},
	{"GET", "/project/{project-slug}/pipeline", false, with(projectBySlug, (*Server).listPipelines)},
	{"POST", "/project/{project-slug}/pipeline", false, (*Server).triggerPipeline},
	{"POST", "/project/{provider}/{organization}/{project}/pipeline/run", false, (*Server).runPipeline},
	{"GET", "/project/{project-slug}/pipeline/{pipeline-number}", false, with(pipelineByNumber, (*Server).getPipeline)},
	{"GET", "/project/{project-slug}/job/{job-number}", false, with(jobByNumber, (*Server).getJob)},
	{"GET", "/project/{project-slug}/{job-number}/artifacts", false, with(jobByNumber, (*Server).listArtifacts)},
	{"GET", "/pipeline", false, (*Server).listOrgPipelines},
	{"GET", "/pipeline/{pipeline-id}", false, with(pipelineByID, (*Server).getPipeline)},
	{"GET", "/pipeline/{pipeline-id}/workflow", false, with(pipelineByID, (*Server).listWorkflows)},
	{"GET", "/workflow/{id}", false, with(workflowByID, (*Server).getWorkflow)},
	{"GET", "/workflow/{id}/job", false, with(workflowByID, (*Server).listJobs)},
	{"POST", "/workflow/{id}/cancel", false, with(workflowByID, (*Server).cancelWorkflow)},
	{"POST", "/workflow/{id}/rerun", false, with(workflowByID, (*Server).rerunWorkflow)},
	{"GET", "/insights/{project-slug}/workflows/{workflow-name}", false, with(projectBySlug, (*Server).workflowRuns)},
	{"GET", "/deploy/projects/{project_id}/settings", true, with(projectByID, (*Server).deploySettings)},
	{"POST", "/projects/{project_id}/rollback", true, (*Server).rollback},
	{"GET", "/projects/{project_id}/pipeline-definitions", true, with(projectByID, (*Server).definitions)},
	{"GET", "/deploy/components", true, (*Server).components},
	{"GET", "/deploy/environments", true, (*Server).environmentsList},
	{"GET", "/deploy/components/{component_id}/versions", true, with(componentByID, (*Server).versions)},
}

// A lookup finds the resource a route's path names. A request naming none
// is answered 404 "<what> not found", as CircleCI answers.
type lookup[T any] struct {
	what string
	find func(s *Server, params map[string]string) *T
}

func (l lookup[T]) notFound() answer { return msg(http.StatusNotFound, l.what+" not found") }

// with serves h for the resource l finds, and a 404 when there is none.
func with[T any](l lookup[T], h func(s *Server, q request, it *T) answer) handler {
	return func(s *Server, q request) answer {
		it := l.find(s, q.params)
		if it == nil {
			return l.notFound()
		}
		return h(s, q, it)
	}
}

var (
	projectBySlug = lookup[Project]{"Project", func(s *Server, p map[string]string) *Project {
		return s.projects[p["project-slug"]]
	}}
	projectByID = lookup[Project]{"Project", func(s *Server, p map[string]string) *Project {
		return s.projectByIDLocked(p["project_id"])
	}}
	pipelineByID = lookup[Pipeline]{"Pipeline", func(s *Server, p map[string]string) *Pipeline {
		return s.findPipelineLocked(p["pipeline-id"])
	}}
	pipelineByNumber = lookup[Pipeline]{"Pipeline", func(s *Server, p map[string]string) *Pipeline {
		n, _ := strconv.ParseInt(p["pipeline-number"], 10, 64)
		for _, pl := range s.pipelines {
			if pl.ProjectSlug == p["project-slug"] && pl.Number == n {
				return pl
			}
		}
		return nil
	}}
	workflowByID = lookup[Workflow]{"Workflow", func(s *Server, p map[string]string) *Workflow {
		return s.workflows[p["id"]]
	}}
	jobByNumber = lookup[Job]{"Job", func(s *Server, p map[string]string) *Job {
		n, _ := strconv.ParseInt(p["job-number"], 10, 64)
		for _, j := range s.jobs {
			if j.Number == n && j.Workflow.Pipeline.ProjectSlug == p["project-slug"] {
				return j
			}
		}
		return nil
	}}
	componentByID = lookup[Component]{"Component", func(s *Server, p map[string]string) *Component {
		var c *Component
		for _, x := range s.comps {
			if x.ID == p["component_id"] {
				c = x
			}
		}
		return c
	}}
)

// findRoute finds the operation for a request. A project slug takes three
// path segments (vcs/org/repo), as CircleCI's slugs do.
func findRoute(method, path string) (Route, handler) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for _, e := range routes {
		if e.method != method {
			continue
		}
		if params, ok := match(e.template, segs); ok {
			return Route{Method: method, Template: e.template, Params: params, Newer: e.newer}, e.h
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
	state, errors := p.State, p.Errors
	if state == "errored" && s.opts.Now().Before(p.CreatedAt.Add(p.SetupFor)) {
		state, errors = "setup-pending", nil
	}
	errs := []map[string]any{}
	for _, e := range errors {
		errs = append(errs, map[string]any{"type": e.Type, "message": e.Message})
	}
	out := map[string]any{
		"id":           p.ID,
		"errors":       errs,
		"project_slug": p.ProjectSlug,
		"updated_at":   ts(p.CreatedAt),
		"number":       p.Number,
		"state":        orCreated(state),
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

func (s *Server) getProject(_ request, p *Project) answer {
	return answer{http.StatusOK, map[string]any{
		"slug": p.Slug, "name": p.Name, "id": p.ID, "organization_name": p.OrgName,
		"organization_slug": p.OrgSlug, "organization_id": p.OrgID,
		"vcs_info": map[string]any{"vcs_url": p.VCSURL, "provider": p.Provider, "default_branch": p.DefBranch},
	}}
}

func (s *Server) listPipelines(q request, p *Project) answer {
	return s.pipelinePageLocked(q, s.projectPipelinesLocked(p.Slug, q.URL.Query().Get("branch")))
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

func (s *Server) getPipeline(_ request, p *Pipeline) answer {
	return answer{http.StatusOK, s.pipelineJSON(p)}
}

func (s *Server) listWorkflows(q request, p *Pipeline) answer {
	var ws []*Workflow
	// Newest first, as CircleCI lists them.
	for i := len(p.Workflows) - 1; i >= 0; i-- {
		if s.visibleLocked(p.Workflows[i].visibleAt) {
			ws = append(ws, p.Workflows[i])
		}
	}
	return list(s, q, ws, s.workflowJSON)
}

func (s *Server) getWorkflow(_ request, w *Workflow) answer {
	return answer{http.StatusOK, s.workflowJSON(w)}
}

func (s *Server) listJobs(q request, w *Workflow) answer {
	return list(s, q, w.Jobs, s.jobJSON)
}

func (s *Server) cancelWorkflow(_ request, w *Workflow) answer {
	switch s.statusLocked(w) {
	case "running", "on_hold", "failing":
		now := s.opts.Now()
		w.Canceled = &now
	}
	return answer{http.StatusAccepted, map[string]string{"message": "Accepted."}}
}

func (s *Server) rerunWorkflow(_ request, w *Workflow) answer {
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

// The writes below read their body before looking up the project: a body
// that is not JSON is a 400 even for a project that does not exist.

func (s *Server) triggerPipeline(q request) answer {
	var req struct {
		Branch     string         `json:"branch"`
		Tag        string         `json:"tag"`
		Parameters map[string]any `json:"parameters"`
	}
	if len(q.body) > 0 && json.Unmarshal(q.body, &req) != nil {
		return msg(http.StatusBadRequest, "Unexpected request body provided.")
	}
	p := projectBySlug.find(s, q.params)
	if p == nil {
		return projectBySlug.notFound()
	}
	if req.Branch != "" && req.Tag != "" {
		return msg(http.StatusBadRequest, "branch and tag are mutually exclusive")
	}
	if req.Branch == "" && req.Tag == "" {
		req.Branch = p.DefBranch
	}
	return answer{http.StatusCreated, creation(s.startLocked(p.Slug, req.Branch, req.Tag, req.Parameters))}
}

func (s *Server) runPipeline(q request) answer {
	var req struct {
		DefinitionID string `json:"definition_id"`
		Checkout     *struct {
			Branch string `json:"branch"`
			Tag    string `json:"tag"`
		} `json:"checkout"`
		Parameters map[string]any `json:"parameters"`
	}
	if json.Unmarshal(q.body, &req) != nil {
		return msg(http.StatusBadRequest, "Unexpected request body provided.")
	}
	slug := q.params["provider"] + "/" + q.params["organization"] + "/" + q.params["project"]
	pr := s.projects[slug]
	if pr == nil {
		return projectBySlug.notFound()
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

func (s *Server) rollback(q request) answer {
	var req struct {
		ComponentName   string         `json:"component_name"`
		EnvironmentName string         `json:"environment_name"`
		CurrentVersion  string         `json:"current_version"`
		TargetVersion   string         `json:"target_version"`
		Parameters      map[string]any `json:"parameters"`
	}
	if json.Unmarshal(q.body, &req) != nil {
		return msg(http.StatusBadRequest, "Unexpected request body provided.")
	}
	p := projectByID.find(s, q.params)
	if p == nil {
		return projectByID.notFound()
	}
	if p.RollbackDefinitionID == "" {
		return msg(http.StatusBadRequest, "No rollback pipeline is set up for this project.")
	}
	pl := s.startLocked(p.Slug, p.DefBranch, "", req.Parameters)
	return answer{http.StatusAccepted, map[string]any{"id": pl.ID, "rollback_type": "PIPELINE"}}
}

func (s *Server) projectByIDLocked(id string) *Project {
	for _, p := range s.projects {
		if p.ID == id {
			return p
		}
	}
	return nil
}

func (s *Server) deploySettings(_ request, p *Project) answer {
	out := map[string]any{}
	if p.RollbackDefinitionID != "" {
		out["rollback_pipeline_definition_id"] = p.RollbackDefinitionID
	}
	if p.DeployDefinitionID != "" {
		out["deploy_pipeline_definition_id"] = p.DeployDefinitionID
	}
	return answer{http.StatusOK, out}
}

func (s *Server) definitions(_ request, p *Project) answer {
	items := []map[string]any{}
	for _, d := range p.Definitions {
		items = append(items, map[string]any{"id": d.ID, "name": d.Name, "description": d.Description, "created_at": ts(d.CreatedAt)})
	}
	return answer{http.StatusOK, map[string]any{"items": items}}
}

var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func (s *Server) components(q request) answer {
	org, project := q.URL.Query().Get("org-id"), q.URL.Query().Get("project-id")
	var cs []*Component
	for _, c := range s.comps {
		p := s.projectByIDLocked(c.ProjectID)
		if p != nil && p.OrgID == org && (project == "" || c.ProjectID == project) {
			cs = append(cs, c)
		}
	}
	return list(s, q, cs, func(c *Component) map[string]any {
		return map[string]any{"id": c.ID, "name": c.Name, "project_id": c.ProjectID, "labels": []any{},
			"release_count": len(c.Versions), "created_at": ts(epoch), "updated_at": ts(epoch)}
	})
}

func (s *Server) environmentsList(q request) answer {
	var es []*Environment
	for _, e := range s.environments {
		if e.OrgID == q.URL.Query().Get("org-id") {
			es = append(es, e)
		}
	}
	return list(s, q, es, func(e *Environment) map[string]any {
		return map[string]any{"id": e.ID, "name": e.Name, "labels": []any{}, "created_at": ts(epoch), "updated_at": ts(epoch)}
	})
}

func (s *Server) versions(q request, c *Component) answer {
	env := q.URL.Query().Get("environment-id")
	var vs []Version
	for _, v := range c.Versions {
		if env == "" || v.EnvironmentID == env {
			vs = append(vs, v)
		}
	}
	return list(s, q, vs, func(v Version) map[string]any {
		return map[string]any{"name": v.Name, "environment_id": v.EnvironmentID, "namespace": v.Namespace,
			"is_live": v.IsLive, "pipeline_id": v.PipelineID, "workflow_id": v.WorkflowID, "job_id": v.JobID,
			"job_number": v.JobNumber, "last_deployed_at": ts(v.LastDeployedAt)}
	})
}

func (s *Server) getJob(q request, j *Job) answer {
	p := s.projects[q.params["project-slug"]]
	w := j.Workflow
	runs := []map[string]any{{"index": 0, "status": s.jobStatusLocked(j)}}
	if len(j.Nodes) > 0 {
		runs = nil
		for i, st := range j.Nodes {
			runs = append(runs, map[string]any{"index": i, "status": st})
		}
	}
	out := map[string]any{
		"web_url":         "https://app.circleci.com/pipelines/" + p.Slug + "/jobs/" + q.params["job-number"],
		"project":         map[string]any{"id": p.ID, "slug": p.Slug, "name": p.Name, "external_url": p.VCSURL},
		"parallel_runs":   runs,
		"started_at":      ts(w.CreatedAt),
		"latest_workflow": map[string]any{"id": w.ID, "name": w.Name},
		"name":            j.Name,
		"executor":        map[string]any{"resource_class": "medium", "type": "docker"},
		"parallelism":     len(runs),
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

func (s *Server) listArtifacts(q request, j *Job) answer {
	return list(s, q, j.Artifacts, func(a ArtifactSeed) map[string]any {
		return map[string]any{"path": a.Path, "node_index": 0,
			"url": "http://" + q.Host + "/api/v2/__artifacts/" + j.ID + "/" + a.Path}
	})
}

func (s *Server) workflowRuns(q request, p *Project) answer {
	query := q.URL.Query()
	branch := query.Get("branch")
	if branch == "" && query.Get("all-branches") != "true" {
		branch = p.DefBranch
	}
	// A run's figures are read once, as it is chosen: the clock moves on.
	var runs []map[string]any
	for _, pl := range s.projectPipelinesLocked(p.Slug, branch) {
		for i := len(pl.Workflows) - 1; i >= 0; i-- {
			w := pl.Workflows[i]
			st := s.statusLocked(w)
			at := s.stoppedAtLocked(w)
			if w.Name != q.params["workflow-name"] || at == nil || st == "not_run" {
				continue
			}
			runs = append(runs, map[string]any{"id": w.ID, "branch": pl.Branch, "duration": int64(at.Sub(w.CreatedAt).Seconds()),
				"created_at": ts(w.CreatedAt), "stopped_at": ts(*at), "credits_used": 10, "status": st, "is_approval": false})
		}
	}
	return list(s, q, runs, rendered)
}
