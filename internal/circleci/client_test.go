package circleci_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	"github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/exitcode"
)

const slug = "gh/acme/api"

func seed(t *testing.T, n int) (*circlecitest.Server, []*inmemory.Pipeline) {
	t.Helper()
	srv := circlecitest.New(t, inmemory.Options{Token: "s3cret-token-value"})
	srv.AddProject(slug)
	var ps []*inmemory.Pipeline
	for i := 0; i < n; i++ {
		ps = append(ps, srv.AddPipeline(slug, inmemory.PipelineSeed{
			Branch:    "main",
			CreatedAt: srv.Now().Add(time.Duration(i-n) * time.Minute),
			Params:    map[string]any{"n": i},
			Workflows: []inmemory.WorkflowSeed{{Name: "build", Status: "success"}, {Name: "deploy", Status: "failed",
				Jobs: []inmemory.JobSeed{{Name: "deploy", Artifacts: []inmemory.ArtifactSeed{{Path: "pmguard/events.jsonl", Content: []byte(`{"event":"x"}` + "\n")}}}}}},
		}))
	}
	return srv, ps
}

func TestPaginationWalksEveryPageNewestFirst(t *testing.T) {
	srv, ps := seed(t, 45)
	c := srv.Client(t)
	ctx := context.Background()
	var got []int64
	pages := 0
	for p, err := range c.Pipelines.Pages(ctx, slug, &circleci.ListPipelinesOptions{Branch: "main"}, 0) {
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range p.Items {
			got = append(got, it.Number)
		}
	}
	if pages != 3 || len(got) != 45 {
		t.Fatalf("pages=%d items=%d, want 3 pages and 45 items", pages, len(got))
	}
	for i, n := range got {
		if want := ps[len(ps)-1-i].Number; n != want {
			t.Fatalf("item %d is pipeline %d, want %d", i, n, want)
		}
	}
	// Breaking out stops fetching pages.
	srv.ResetRequests()
	for _, err := range c.Pipelines.All(ctx, slug, nil, 0) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if srv.Calls() != 1 {
		t.Fatalf("breaking after the first item made %d calls, want 1", srv.Calls())
	}
	// maxPages bounds the walk.
	items, err := circleci.Collect(c.Pipelines.All(ctx, slug, nil, 2))
	if err != nil || len(items) != 40 {
		t.Fatalf("maxPages 2: %d items, %v", len(items), err)
	}
}

func TestReadsEveryArea(t *testing.T) {
	srv, ps := seed(t, 2)
	c := srv.Client(t)
	ctx := context.Background()
	p, err := c.Pipelines.Get(ctx, ps[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.Number != ps[1].Number || p.Branch() != "main" || p.Revision() != ps[1].Revision || p.Trigger.Type != "webhook" {
		t.Fatalf("pipeline = %+v", p)
	}
	if v, ok := p.Param("n"); !ok || v.(float64) != 1 {
		t.Fatalf("param n = %v %v", v, ok)
	}
	byNum, err := c.Pipelines.GetByNumber(ctx, slug, ps[0].Number)
	if err != nil || byNum.ID != ps[0].ID {
		t.Fatalf("by number: %v %v", byNum, err)
	}
	wfs, err := c.Pipelines.Workflows(ctx, p.ID)
	if err != nil || len(wfs) != 2 {
		t.Fatalf("workflows: %v %v", wfs, err)
	}
	var deploy circleci.Workflow
	for _, w := range wfs {
		if w.Name == "deploy" {
			deploy = w
		}
	}
	if deploy.Status != circleci.StatusFailed || !deploy.Done() || deploy.StoppedAt == nil {
		t.Fatalf("deploy workflow = %+v", deploy)
	}
	w, err := c.Workflows.Get(ctx, deploy.ID)
	if err != nil || w.PipelineID != p.ID {
		t.Fatalf("workflow: %+v %v", w, err)
	}
	jobs, err := c.Workflows.Jobs(ctx, w.ID)
	if err != nil || len(jobs) != 1 || jobs[0].JobNumber == nil {
		t.Fatalf("jobs: %+v %v", jobs, err)
	}
	jd, err := c.Jobs.Get(ctx, slug, *jobs[0].JobNumber)
	if err != nil || jd.LatestWorkflow.ID != w.ID || jd.Pipeline.ID != p.ID {
		t.Fatalf("job details: %+v %v", jd, err)
	}
	arts, err := circleci.Collect(c.Jobs.Artifacts(ctx, slug, *jobs[0].JobNumber))
	if err != nil || len(arts) != 1 || arts[0].Path != "pmguard/events.jsonl" {
		t.Fatalf("artifacts: %+v %v", arts, err)
	}
	data, err := c.Jobs.Download(ctx, arts[0], 0)
	if err != nil || !strings.Contains(string(data), `"event":"x"`) {
		t.Fatalf("download: %q %v", data, err)
	}
	proj, err := c.Projects.Get(ctx, slug)
	if err != nil || proj.Slug != slug || proj.VCSInfo.Provider != "GitHub" {
		t.Fatalf("project: %+v %v", proj, err)
	}
	runs, err := circleci.Collect(c.Insights.WorkflowRuns(ctx, slug, "deploy", &circleci.WorkflowRunsOptions{Branch: "main"}))
	if err != nil || len(runs) != 2 || runs[0].Status == nil || *runs[0].Status != "failed" {
		t.Fatalf("insights: %+v %v", runs, err)
	}
	if got := c.WorkflowURL(w); !strings.HasSuffix(got, "/pipelines/gh/acme/api/2/workflows/"+w.ID) {
		t.Fatalf("workflow URL %s", got)
	}
}

func TestWritesAndDeployRoutes(t *testing.T) {
	srv, ps := seed(t, 1)
	pr := srv.Project(slug)
	def := srv.AddDefinition(slug, "rollback")
	srv.SetRollbackDefinition(slug, def.ID)
	env := srv.AddEnvironment(slug, "production")
	comp := srv.AddComponent(slug, "api")
	srv.AddVersion(comp, env, "v1", ps[0])
	c := srv.Client(t)
	ctx := context.Background()

	created, err := c.Pipelines.Trigger(ctx, slug, circleci.TriggerRequest{Branch: "main", Parameters: map[string]any{"pmguard_rollback": true}})
	if err != nil || created.Number != 2 {
		t.Fatalf("trigger: %+v %v", created, err)
	}
	run, err := c.Pipelines.Run(ctx, slug, circleci.RunRequest{DefinitionID: def.ID, Checkout: &circleci.Ref{Tag: "v1"}})
	if err != nil || run.Number != 3 {
		t.Fatalf("run: %+v %v", run, err)
	}
	wfs, _ := c.Pipelines.Workflows(ctx, created.ID)
	newID, err := c.Workflows.Rerun(ctx, wfs[0].ID, circleci.RerunRequest{})
	if err != nil || newID == "" {
		t.Fatalf("rerun: %v %v", newID, err)
	}
	if err := c.Workflows.Cancel(ctx, newID); err != nil {
		t.Fatal(err)
	}
	if st := srv.WorkflowStatus(newID); st != "canceled" {
		t.Fatalf("after cancel: %s", st)
	}
	set, err := c.Deploy.Settings(ctx, pr.ID)
	if err != nil || set.RollbackPipelineDefinitionID != def.ID {
		t.Fatalf("settings: %+v %v", set, err)
	}
	defs, err := c.Pipelines.Definitions(ctx, pr.ID)
	if err != nil || len(defs) != 1 {
		t.Fatalf("definitions: %+v %v", defs, err)
	}
	comps, err := circleci.Collect(c.Deploy.Components(ctx, pr.OrgID, pr.ID))
	if err != nil || len(comps) != 1 || comps[0].Name != "api" {
		t.Fatalf("components: %+v %v", comps, err)
	}
	envs, err := circleci.Collect(c.Deploy.Environments(ctx, pr.OrgID))
	if err != nil || len(envs) != 1 {
		t.Fatalf("environments: %+v %v", envs, err)
	}
	vers, err := circleci.Collect(c.Deploy.Versions(ctx, comp.ID, env.ID, 0))
	if err != nil || len(vers) != 1 || !vers[0].IsLive || vers[0].PipelineID != ps[0].ID {
		t.Fatalf("versions: %+v %v", vers, err)
	}
	rb, err := c.Deploy.Rollback(ctx, pr.ID, circleci.RollbackRequest{ComponentName: "api", EnvironmentName: "production", CurrentVersion: "v2", TargetVersion: "v1"})
	if err != nil || rb.ID == "" || rb.RollbackType == "" {
		t.Fatalf("rollback: %+v %v", rb, err)
	}
	if srv.Writes() != 5 {
		t.Fatalf("writes = %d, want 5", srv.Writes())
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		fault      inmemory.Fault
		badToken   bool
		write      bool
		wantStatus int
		wantText   []string
		wantCalls  int
	}{
		{name: "429 then success", fault: inmemory.Fault{Status: 429, RetryAfter: "1", Times: 1}, wantCalls: 2},
		{name: "5xx twice then success", fault: inmemory.Fault{Status: 502, Times: 2}, wantCalls: 3},
		{name: "5xx past the retries", fault: inmemory.Fault{Status: 500, Message: "boom", Times: 10}, wantStatus: 500, wantText: []string{"500", "boom", "request id"}, wantCalls: 4},
		{name: "429 past the retries", fault: inmemory.Fault{Status: 429, RetryAfter: "30", Times: 10}, wantStatus: 429, wantText: []string{"rate limited until"}, wantCalls: 4},
		{name: "401", badToken: true, wantStatus: 401, wantText: []string{"invalid token (env CIRCLE_TOKEN)"}, wantCalls: 1},
		{name: "404 on write", fault: inmemory.Fault{Method: "POST", Status: 404, Message: "Project not found"}, write: true, wantStatus: 404,
			wantText: []string{"the token may lack write scope or the project is not followed"}, wantCalls: 1},
		{name: "404 on read", fault: inmemory.Fault{Status: 404, Message: "Project not found"}, wantStatus: 404, wantText: []string{"not found"}, wantCalls: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := seed(t, 1)
			if tt.fault.Status != 0 {
				srv.Inject(tt.fault)
			}
			token := srv.Token()
			if tt.badToken {
				token = "wrong-token-value"
			}
			c, err := circleci.New(circleci.Options{Host: srv.URL(), Token: token, HTTP: circlecitest.FastHTTP()})
			if err != nil {
				t.Fatal(err)
			}
			if tt.write {
				_, err = c.Pipelines.Trigger(ctx, slug, circleci.TriggerRequest{Branch: "main"})
			} else {
				_, err = c.Projects.Get(ctx, slug)
			}
			if got := srv.Calls(); got != tt.wantCalls {
				t.Errorf("server saw %d requests, want %d", got, tt.wantCalls)
			}
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			var ae *circleci.APIError
			if !errors.As(err, &ae) || ae.StatusCode != tt.wantStatus {
				t.Fatalf("err = %v, want *APIError %d", err, tt.wantStatus)
			}
			for _, w := range tt.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), token) {
				t.Errorf("error shows the token: %v", err)
			}
		})
	}
}

func TestDryRunSendsNoWrite(t *testing.T) {
	srv, ps := seed(t, 1)
	var seen []circleci.Request
	c, err := circleci.New(circleci.Options{Host: srv.URL(), Token: srv.Token(), HTTP: circlecitest.FastHTTP(), DryRun: func(r circleci.Request) { seen = append(seen, r) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := c.Pipelines.Get(ctx, ps[0].ID); err != nil {
		t.Fatal(err)
	}
	_, err = c.Pipelines.Trigger(ctx, slug, circleci.TriggerRequest{Branch: "main", Parameters: map[string]any{"pmguard_rollback": true}})
	if !errors.Is(err, circleci.ErrDryRun) {
		t.Fatalf("err = %v, want ErrDryRun", err)
	}
	if srv.Writes() != 0 || len(seen) != 1 || seen[0].Method != http.MethodPost || !strings.Contains(seen[0].String(), `"pmguard_rollback":true`) {
		t.Fatalf("writes=%d seen=%v", srv.Writes(), seen)
	}
	if strings.Contains(seen[0].String(), srv.Token()) {
		t.Fatal("dry-run output shows the token")
	}
}

func TestFromEnv(t *testing.T) {
	_, err := circleci.FromEnv(config.MapEnv(map[string]string{}), circleci.Options{TokenEnv: "MY_TOKEN"})
	var te *circleci.TokenError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "MY_TOKEN") || exitcode.Of(err) != exitcode.BadInput {
		t.Fatalf("missing token: %v", err)
	}
	c, err := circleci.FromEnv(config.MapEnv(map[string]string{"CIRCLE_TOKEN": "abcd1234", "PMGUARD_CIRCLECI_HOST": "https://ci.example.com/"}), circleci.Options{})
	if err != nil || c.BaseURL() != "https://ci.example.com/api/v2" || c.AppURL() != "https://ci.example.com" {
		t.Fatalf("server host: %v %v", c, err)
	}
	c, _ = circleci.FromEnv(config.MapEnv(map[string]string{"CIRCLE_TOKEN": "abcd1234"}), circleci.Options{})
	if c.BaseURL() != "https://circleci.com/api/v2" || c.AppURL() != "https://app.circleci.com" {
		t.Fatalf("default host: %s %s", c.BaseURL(), c.AppURL())
	}
}
