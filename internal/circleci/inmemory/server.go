// Package inmemory is an in-memory CircleCI API v2 for the demo and tests:
// projects, pipelines with parameters, trigger and VCS data, workflows whose
// statuses advance on a clock, jobs with artifacts, deploy settings and
// deploy markers.
//
// It serves the routes pmguard uses under /api/v2 and lets a caller seed
// state, inject faults (429 with Retry-After, 5xx, 401, 404) and latency, and
// count requests. It does not validate against the OpenAPI spec: package
// circlecitest wraps it with that validation for tests. It stays free of the
// validator and of package testing because the pmguard binary serves it for
// `pmguard demo`.
package inmemory

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Clock is a manual clock: tests advance it instead of sleeping.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock set to t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Sleep advances the clock by d, as a sleeper for code under test.
func (c *Clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// Options configures a Server.
type Options struct {
	// Token is the only token accepted in the Circle-Token header.
	Token string
	// Now is the clock; nil uses a manual clock starting at 2025-03-01 12:00 UTC.
	Now func() time.Time
	// Latency is added to every request (benchmarks).
	Latency time.Duration
	// PageSize is the page size of list answers; 0 means 20, CircleCI's own.
	PageSize int
	// OnTrigger gives the workflows of a pipeline started through the API
	// (trigger, pipeline run, rollback pipeline). nil: one workflow named
	// "deploy" that runs for a minute, then succeeds.
	OnTrigger func(p *Pipeline) []WorkflowSeed
	// OnRerun gives the status timeline of a rerun workflow. nil: runs for a
	// minute, then succeeds.
	OnRerun func(original *Workflow) []Step
	// ListLag is how long a pipeline started through the API (or a rerun
	// workflow) stays out of list answers after it was created, on the
	// server's clock: CircleCI's lists are eventually consistent, while a
	// read by id sees the pipeline at once.
	ListLag time.Duration
}

// Step is a point in a workflow's status timeline: from After (since the
// workflow was created) on, its status is Status.
type Step struct {
	After  time.Duration
	Status string
}

// Ends is a timeline that runs for d, then ends with status (success,
// failed, canceled ...).
func Ends(d time.Duration, status string) []Step {
	return []Step{{0, "running"}, {d, status}}
}

// Project is a followed project.
type Project struct {
	Slug, Name, ID              string
	OrgID, OrgName, OrgSlug     string
	VCSURL, Provider, DefBranch string
	RollbackDefinitionID        string
	DeployDefinitionID          string
	Definitions                 []Definition
}

// Definition is a pipeline definition.
type Definition struct {
	ID, Name, Description string
	CreatedAt             time.Time
}

// PipelineSeed describes a pipeline to add.
type PipelineSeed struct {
	ID                    string // empty: a new UUID
	Branch, Tag, Revision string
	Subject               string
	Params                map[string]any
	TriggerType           string // webhook (default), api, explicit, scheduled_pipeline
	Actor                 string
	CreatedAt             time.Time // zero: the clock's now
	Workflows             []WorkflowSeed
}

// WorkflowSeed describes a workflow of a pipeline.
type WorkflowSeed struct {
	ID       string // empty: a new UUID
	Name     string
	Status   string // final status when Timeline is empty
	Timeline []Step
	Jobs     []JobSeed
	// After is how long after the pipeline's creation the workflow shows
	// (its config being set up); 0: at once.
	After time.Duration
}

// JobSeed describes a job of a workflow.
type JobSeed struct {
	Name      string
	Status    string
	Artifacts []ArtifactSeed
	// Nodes are the statuses of a job with parallelism, by node index
	// (empty: one node, in the job's status).
	Nodes []string
}

// ArtifactSeed is a file a job stored.
type ArtifactSeed struct {
	Path    string
	Content []byte
}

// Pipeline is a pipeline held by the server.
type Pipeline struct {
	ID          string
	Number      int64
	ProjectSlug string
	Branch      string
	Tag         string
	Revision    string
	Subject     string
	Params      map[string]any
	TriggerType string
	Actor       string
	CreatedAt   time.Time
	Workflows   []*Workflow
	// State is the pipeline's state ("" reads as created); a trigger hook
	// may set "errored" with Errors (a config that does not compile).
	State  string
	Errors []PipelineError
	// SetupFor, with State "errored", is how long after its creation the
	// pipeline reads "setup-pending" without errors before it errors, as
	// CircleCI's config compilation takes seconds.
	SetupFor time.Duration
	// visibleAt is when list answers start to show the pipeline (ListLag).
	visibleAt time.Time
}

// PipelineError is an error recorded on a pipeline.
type PipelineError struct{ Type, Message string }

// Workflow is a workflow held by the server.
type Workflow struct {
	ID        string
	Name      string
	Pipeline  *Pipeline
	CreatedAt time.Time
	Timeline  []Step
	Canceled  *time.Time
	StartedBy string
	Jobs      []*Job
	RerunOf   string
	visibleAt time.Time
}

// Job is a job held by the server.
type Job struct {
	ID        string
	Number    int64
	Name      string
	Status    string
	Workflow  *Workflow
	Artifacts []ArtifactSeed
	Nodes     []string
}

// Component is a deploy-markers component.
type Component struct {
	ID, Name, ProjectID string
	Versions            []Version // newest first
}

// Version is a component version deployed to an environment.
type Version struct {
	Name, EnvironmentID, Namespace string
	IsLive                         bool
	PipelineID, WorkflowID, JobID  string
	JobNumber                      int64
	LastDeployedAt                 time.Time
}

// Environment is a deploy environment.
type Environment struct{ ID, Name, OrgID string }

// Fault is an answer to inject instead of serving a request.
type Fault struct {
	Method     string // "" for any
	Path       string // prefix of the path under /api/v2; "" for any
	Status     int
	RetryAfter string // Retry-After header, if any
	Message    string
	Times      int // how many requests to answer this way; 0 means 1
	// AfterServe serves the request first (a trigger creates its pipeline)
	// and then answers with Status instead of the real answer: the
	// partial failure of a 502 or a timeout after the work was done.
	AfterServe bool
	// Hang, with AfterServe, answers nothing until the client gives up (a
	// timeout after creation); Status is then only recorded.
	Hang bool
}

// Seen is one request the server received.
type Seen struct {
	Method, Path string
	Body         []byte
	Status       int
}

// Server is the in-memory CircleCI API.
type Server struct {
	opts  Options
	clock *Clock

	mu           sync.Mutex
	projects     map[string]*Project // by slug
	pipelines    []*Pipeline
	pipelineByID map[string]*Pipeline // index of pipelines: large histories (benchmarks)
	newestFirst  []*Pipeline          // pipelines by creation, newest first, while len(pipelines) is unchanged
	workflows    map[string]*Workflow
	jobs         map[string]*Job
	comps        []*Component
	environments []*Environment
	faults       []*Fault
	seen         []Seen
	numbers      map[string]int64 // next pipeline number per project
	jobNumber    int64
	hs           *http.Server
	url          string

	// Hook, when set, runs before a request is served (after routing); the
	// validating wrapper uses it. It returns false to stop serving.
	hook func(w http.ResponseWriter, r *http.Request, route Route, body []byte) bool
	// RespHook, when set, sees every answer before it is written.
	respHook func(r *http.Request, route Route, body []byte, status int, header http.Header, resp []byte)
}

// Route is the matched operation: the path template as the spec writes it,
// its path parameters, and whether it comes from the published spec or the
// newer deploy routes.
type Route struct {
	Method   string
	Template string
	Params   map[string]string
	Newer    bool
	Injected bool // the answer is an injected fault
}

// New returns a Server; call Start to serve it on loopback, or use it as an
// http.Handler.
func New(o Options) *Server {
	if o.Token == "" {
		o.Token = "test-token"
	}
	if o.PageSize <= 0 {
		o.PageSize = 20
	}
	s := &Server{
		opts:      o,
		projects:  map[string]*Project{},
		workflows: map[string]*Workflow{},
		jobs:      map[string]*Job{},
		numbers:   map[string]int64{},
		jobNumber: 100,
	}
	if o.Now == nil {
		s.clock = NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
		s.opts.Now = s.clock.Now
	}
	return s
}

// Clock is the server's own manual clock, or nil when Options.Now was given.
func (s *Server) Clock() *Clock { return s.clock }

// Now is the server's time.
func (s *Server) Now() time.Time { return s.opts.Now() }

// Token is the accepted token.
func (s *Server) Token() string { return s.opts.Token }

// Start serves s on a loopback port. (net/http/httptest is not used so
// that the pmguard binary, whose demo runs this server, does not carry it.)
func (s *Server) Start() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("in-memory CircleCI: listen on loopback: %v", err))
	}
	s.hs = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.url = "http://" + ln.Addr().String()
	go func() { _ = s.hs.Serve(ln) }()
}

// URL is the host to give the client (it adds /api/v2).
func (s *Server) URL() string { return s.url }

// Close stops serving.
func (s *Server) Close() {
	if s.hs != nil {
		_ = s.hs.Close()
	}
}

// SetNextPipelineNumber makes the project's next pipeline take number n.
func (s *Server) SetNextPipelineNumber(slug string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.numbers[slug] = n - 1
}

// SetHooks installs the validation hooks (used by circlecitest).
func (s *Server) SetHooks(req func(w http.ResponseWriter, r *http.Request, route Route, body []byte) bool, resp func(r *http.Request, route Route, body []byte, status int, header http.Header, resp []byte)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook, s.respHook = req, resp
}

// SetLatency changes the latency added to every request.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.opts.Latency = d
	s.mu.Unlock()
}

func orNewID(id string) string {
	if id != "" {
		return id
	}
	return newID()
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// AddProject adds a followed project with the given slug and returns it.
func (s *Server) AddProject(slug string) *Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	parts := strings.Split(slug, "/")
	org, name := "", slug
	if len(parts) == 3 {
		org, name = parts[1], parts[2]
	}
	provider := map[string]string{"gh": "GitHub", "bb": "Bitbucket"}[parts[0]]
	if provider == "" {
		provider = "CircleCI"
	}
	p := &Project{Slug: slug, Name: name, ID: newID(), OrgID: newID(), OrgName: org, OrgSlug: parts[0] + "/" + org,
		VCSURL: "https://github.com/" + org + "/" + name, Provider: provider, DefBranch: "main"}
	s.projects[slug] = p
	return p
}

// Project returns a project by slug.
func (s *Server) Project(slug string) *Project {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.projects[slug]
}

// SetRollbackDefinition registers a rollback pipeline definition for a project.
func (s *Server) SetRollbackDefinition(slug, definitionID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.projects[slug].RollbackDefinitionID = definitionID
}

// AddDefinition adds a pipeline definition to a project.
func (s *Server) AddDefinition(slug, name string) Definition {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := Definition{ID: newID(), Name: name, Description: name + " pipeline", CreatedAt: s.opts.Now()}
	s.projects[slug].Definitions = append(s.projects[slug].Definitions, d)
	return d
}

// AddPipeline adds a pipeline with its workflows and jobs, numbered after
// the project's previous one.
func (s *Server) AddPipeline(slug string, seed PipelineSeed) *Pipeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addPipelineLocked(slug, seed)
}

func (s *Server) addPipelineLocked(slug string, seed PipelineSeed) *Pipeline {
	if seed.CreatedAt.IsZero() {
		seed.CreatedAt = s.opts.Now()
	}
	if seed.TriggerType == "" {
		seed.TriggerType = "webhook"
	}
	if seed.Actor == "" {
		seed.Actor = "octocat"
	}
	if seed.Revision == "" {
		seed.Revision = fmt.Sprintf("%040x", len(s.pipelines)+1)
	}
	s.numbers[slug]++
	p := &Pipeline{ID: orNewID(seed.ID), Number: s.numbers[slug], ProjectSlug: slug, Branch: seed.Branch, Tag: seed.Tag,
		Revision: seed.Revision, Subject: seed.Subject, Params: seed.Params, TriggerType: seed.TriggerType,
		Actor: seed.Actor, CreatedAt: seed.CreatedAt}
	s.pipelines = append(s.pipelines, p)
	if s.pipelineByID == nil {
		s.pipelineByID = map[string]*Pipeline{}
	}
	s.pipelineByID[p.ID] = p
	for _, ws := range seed.Workflows {
		s.addWorkflowLocked(p, ws, p.CreatedAt)
	}
	return p
}

func (s *Server) addWorkflowLocked(p *Pipeline, ws WorkflowSeed, at time.Time) *Workflow {
	tl := ws.Timeline
	if len(tl) == 0 {
		st := ws.Status
		if st == "" {
			st = "success"
		}
		tl = []Step{{0, st}}
	}
	w := &Workflow{ID: orNewID(ws.ID), Name: ws.Name, Pipeline: p, CreatedAt: at.Add(ws.After), Timeline: tl, StartedBy: newID()}
	if ws.After > 0 {
		w.visibleAt = w.CreatedAt
	}
	jobs := ws.Jobs
	if len(jobs) == 0 {
		jobs = []JobSeed{{Name: ws.Name}}
	}
	for _, js := range jobs {
		s.jobNumber++
		j := &Job{ID: newID(), Number: s.jobNumber, Name: js.Name, Status: js.Status, Workflow: w, Artifacts: js.Artifacts, Nodes: js.Nodes}
		w.Jobs = append(w.Jobs, j)
		s.jobs[j.ID] = j
	}
	p.Workflows = append(p.Workflows, w)
	s.workflows[w.ID] = w
	return w
}

// Pipelines returns a project's pipelines, newest first.
func (s *Server) Pipelines(slug string) []*Pipeline {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.projectPipelinesLocked(slug, "")
}

func (s *Server) projectPipelinesLocked(slug, branch string) []*Pipeline {
	var out []*Pipeline
	for _, p := range s.pipelines {
		if p.ProjectSlug == slug && (branch == "" || p.Branch == branch) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Number > out[j].Number })
	return out
}

// Workflow returns a workflow by id.
func (s *Server) Workflow(id string) *Workflow {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.workflows[id]
}

// WorkflowStatus is a workflow's status now.
func (s *Server) WorkflowStatus(id string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked(s.workflows[id])
}

// SetWorkflowStatus replaces a workflow's timeline with a fixed status.
func (s *Server) SetWorkflowStatus(id, status string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.workflows[id].Timeline = []Step{{0, status}}
}

func (s *Server) statusLocked(w *Workflow) string {
	if w.Canceled != nil {
		return "canceled"
	}
	age := s.opts.Now().Sub(w.CreatedAt)
	st := "running"
	for _, step := range w.Timeline {
		if age >= step.After {
			st = step.Status
		}
	}
	return st
}

func (s *Server) stoppedAtLocked(w *Workflow) *time.Time {
	if w.Canceled != nil {
		return w.Canceled
	}
	st := s.statusLocked(w)
	if st == "running" || st == "on_hold" || st == "failing" {
		return nil
	}
	var at time.Time
	for _, step := range w.Timeline {
		if step.Status == st {
			at = w.CreatedAt.Add(step.After)
		}
	}
	return &at
}

// AddEnvironment adds a deploy environment to a project's organization.
func (s *Server) AddEnvironment(slug, name string) *Environment {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := &Environment{ID: newID(), Name: name, OrgID: s.projects[slug].OrgID}
	s.environments = append(s.environments, e)
	return e
}

// AddComponent adds a deploy-markers component to a project.
func (s *Server) AddComponent(slug, name string) *Component {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &Component{ID: newID(), Name: name, ProjectID: s.projects[slug].ID}
	s.comps = append(s.comps, c)
	return c
}

// AddVersion records a component version deployed from a pipeline's
// workflow; the newest added is live.
func (s *Server) AddVersion(c *Component, env *Environment, name string, p *Pipeline) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range c.Versions {
		if c.Versions[i].EnvironmentID == env.ID {
			c.Versions[i].IsLive = false
		}
	}
	v := Version{Name: name, EnvironmentID: env.ID, Namespace: "default", IsLive: true, PipelineID: p.ID, LastDeployedAt: p.CreatedAt}
	if len(p.Workflows) > 0 {
		w := p.Workflows[0]
		v.WorkflowID = w.ID
		if len(w.Jobs) > 0 {
			v.JobID, v.JobNumber = w.Jobs[0].ID, w.Jobs[0].Number
		}
	}
	c.Versions = append([]Version{v}, c.Versions...)
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times <= 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// Requests returns every request received so far.
func (s *Server) Requests() []Seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Seen(nil), s.seen...)
}

// Writes counts the non-GET requests received.
func (s *Server) Writes() int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method != http.MethodGet {
			n++
		}
	}
	return n
}

// Calls counts every request received.
func (s *Server) Calls() int { return len(s.Requests()) }

// ResetRequests forgets the requests received so far.
func (s *Server) ResetRequests() {
	s.mu.Lock()
	s.seen = nil
	s.mu.Unlock()
}

// --- serving ---

type answer struct {
	status int
	body   any
}

func msg(status int, m string) answer { return answer{status, map[string]string{"message": m}} }

// ServeHTTP serves the API under /api/v2.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	s.mu.Lock()
	latency := s.opts.Latency
	s.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	path := strings.TrimPrefix(r.URL.Path, "/api/v2")
	// Artifact downloads live outside the API's route table.
	if strings.HasPrefix(path, "/__artifacts/") {
		s.serveArtifact(w, r, strings.TrimPrefix(path, "/__artifacts/"))
		return
	}
	route, handler := findRoute(r.Method, path)
	idx := s.record(Seen{Method: r.Method, Path: r.URL.RequestURI(), Body: body})
	s.mu.Lock()
	hook, respHook := s.hook, s.respHook
	s.mu.Unlock()
	if hook != nil && !hook(w, r, route, body) {
		s.setStatus(idx, http.StatusBadRequest)
		return
	}
	header := http.Header{}
	var a answer
	f := s.takeFault(r.Method, path)
	if f != nil && f.AfterServe {
		if handler != nil && r.Header.Get("Circle-Token") == s.opts.Token {
			s.serve(handler, r, route.Params, body)
		}
		if f.Hang {
			<-r.Context().Done()
			s.setStatus(idx, f.Status)
			return
		}
	}
	if f != nil {
		route.Injected = true
		a = msg(f.Status, f.Message)
		if f.Message == "" {
			a = msg(f.Status, http.StatusText(f.Status))
		}
		if f.RetryAfter != "" {
			header.Set("Retry-After", f.RetryAfter)
		}
	} else if r.Header.Get("Circle-Token") != s.opts.Token {
		route.Injected = route.Template == ""
		a = msg(http.StatusUnauthorized, "Invalid token provided.")
	} else if handler == nil {
		a = msg(http.StatusNotFound, "Not found.")
	} else {
		a = s.serve(handler, r, route.Params, body)
	}
	out, _ := json.Marshal(a.body)
	header.Set("Content-Type", "application/json")
	header.Set("X-Request-Id", newID())
	if respHook != nil {
		respHook(r, route, body, a.status, header, out)
	}
	for k, v := range header {
		w.Header()[k] = v
	}
	w.WriteHeader(a.status)
	_, _ = w.Write(out)
	s.setStatus(idx, a.status)
}

// serve answers a request with its route's handler, under the server's lock.
func (s *Server) serve(h handler, r *http.Request, params map[string]string, body []byte) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return h(s, request{r, params, body})
}

func (s *Server) record(r Seen) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = append(s.seen, r)
	return len(s.seen) - 1
}

func (s *Server) setStatus(i, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < len(s.seen) {
		s.seen[i].Status = status
	}
}

func (s *Server) takeFault(method, path string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if (f.Method == "" || f.Method == method) && strings.HasPrefix(path, f.Path) {
			f.Times--
			if f.Times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

func (s *Server) serveArtifact(w http.ResponseWriter, r *http.Request, rest string) {
	if r.Header.Get("Circle-Token") != s.opts.Token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	jobID, path, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	j := s.jobs[jobID]
	s.mu.Unlock()
	if j != nil {
		for _, a := range j.Artifacts {
			if a.Path == path {
				_, _ = w.Write(a.Content)
				return
			}
		}
	}
	http.NotFound(w, r)
}

// --- pagination ---

func pageToken(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(offset)))
}

func pageOffset(tok string) (int, bool) {
	if tok == "" {
		return 0, true
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || !strings.HasPrefix(string(b), "offset:") {
		return 0, false
	}
	n, err := strconv.Atoi(strings.TrimPrefix(string(b), "offset:"))
	return n, err == nil && n >= 0
}

// list answers one page of items, rendering only the page's items (a long
// pipeline history is not rendered whole). A page token the server did not
// issue is a 400.
func list[T any](s *Server, q request, items []T, render func(T) map[string]any) answer {
	off, ok := pageOffset(q.URL.Query().Get("page-token"))
	if !ok {
		return msg(http.StatusBadRequest, "Invalid page-token.")
	}
	off = min(off, len(items))
	end := off + s.opts.PageSize
	var next any
	if end < len(items) {
		next = pageToken(end)
	} else {
		end = len(items)
	}
	out := []map[string]any{}
	for _, it := range items[off:end] {
		out = append(out, render(it))
	}
	return answer{http.StatusOK, map[string]any{"items": out, "next_page_token": next}}
}

// rendered is the render of items built in their JSON form already.
func rendered(m map[string]any) map[string]any { return m }
