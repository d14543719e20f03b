package circlecitest_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	"github.com/pmguard/pmguard/internal/circleci/inmemory"
)

// The stand-in must catch requests that drift from the spec; nil tb makes
// it collect failures instead of failing this test.
func TestStandInRejectsRequestsOffSpec(t *testing.T) {
	srv := circlecitest.New(nil, inmemory.Options{})
	t.Cleanup(srv.Close)
	srv.AddProject("gh/acme/api")
	p := srv.AddPipeline("gh/acme/api", inmemory.PipelineSeed{Branch: "main", Workflows: []inmemory.WorkflowSeed{{Name: "deploy"}}})
	wf := p.Workflows[0].ID
	tests := []struct {
		name, method, path, body, token string
		wantStatus                      int
		wantFailure                     string
	}{
		{"body of the wrong type", "POST", "/api/v2/workflow/" + wf + "/rerun", `{"jobs":"all"}`, srv.Token(), 400, "does not match the spec"},
		{"unknown field in a strict body", "POST", "/api/v2/project/gh/acme/api/pipeline/run", `{"definition":"x"}`, srv.Token(), 400, "does not match the spec"},
		{"rollback without the required fields", "POST", "/api/v2/projects/" + srv.Project("gh/acme/api").ID + "/rollback", `{"target_version":"v1"}`, srv.Token(), 400, "does not match the spec"},
		{"no Circle-Token header", "GET", "/api/v2/pipeline/" + p.ID, "", "", 400, "does not match the spec"},
		{"unknown route", "GET", "/api/v2/pipelines/" + p.ID, "", srv.Token(), 404, "no such operation"},
		{"id that is not a uuid", "GET", "/api/v2/workflow/not-a-uuid", "", srv.Token(), 400, "does not match the spec"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(srv.Failures())
			req, _ := http.NewRequest(tt.method, srv.URL()+tt.path, strings.NewReader(tt.body))
			if tt.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if tt.token != "" {
				req.Header.Set("Circle-Token", tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			f := srv.Failures()
			if len(f) != before+1 || !strings.Contains(f[len(f)-1], tt.wantFailure) {
				t.Fatalf("failures %v, want one new saying %q", f[before:], tt.wantFailure)
			}
		})
	}
	if srv.Writes() != 3 {
		t.Errorf("writes counted %d, want 3 (every non-GET received)", srv.Writes())
	}
}

func TestStandInStatusesAdvanceWithTheClock(t *testing.T) {
	srv := circlecitest.New(t, inmemory.Options{})
	srv.AddProject("gh/acme/api")
	p := srv.AddPipeline("gh/acme/api", inmemory.PipelineSeed{Branch: "main", Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Timeline: inmemory.Ends(90e9, "failed")}}})
	id := p.Workflows[0].ID
	if st := srv.WorkflowStatus(id); st != "running" {
		t.Fatalf("at start: %s", st)
	}
	srv.Clock().Advance(60e9)
	if st := srv.WorkflowStatus(id); st != "running" {
		t.Fatalf("after 60s: %s", st)
	}
	srv.Clock().Advance(30e9)
	if st := srv.WorkflowStatus(id); st != "failed" {
		t.Fatalf("after 90s: %s", st)
	}
	srv.SetWorkflowStatus(id, "success")
	if st := srv.WorkflowStatus(id); st != "success" {
		t.Fatalf("after SetWorkflowStatus: %s", st)
	}
}
