package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	"github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/deploymarker/markertest"
)

func TestRollbackVerb(t *testing.T) {
	const token = "cci-verb-secret-0123456789"
	srv := circlecitest.New(t, inmemory.Options{Token: token})
	srv.AddProject("gh/acme/api")
	good := srv.AddPipeline("gh/acme/api", inmemory.PipelineSeed{Branch: "main", CreatedAt: srv.Now().Add(-2 * time.Hour),
		Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "success"}}})
	failed := srv.AddPipeline("gh/acme/api", inmemory.PipelineSeed{Branch: "main", CreatedAt: srv.Now().Add(-time.Hour),
		Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "failed"}}})
	events := filepath.Join(t.TempDir(), "events.jsonl")
	baseEnv := map[string]string{
		"CIRCLE_TOKEN":             token,
		"PMGUARD_CIRCLECI_HOST":    srv.URL(),
		"CIRCLE_PROJECT_USERNAME":  "acme",
		"CIRCLE_PROJECT_REPONAME":  "api",
		"CIRCLE_BUILD_URL":         "https://circleci.com/gh/acme/api/123",
		"CIRCLE_WORKFLOW_ID":       failed.Workflows[0].ID,
		"CIRCLE_PIPELINE_ID":       failed.ID,
		"PMGUARD_EVENTS_FILE":      events,
		"PMGUARD_ROLLBACK_DRY_RUN": "true",
	}
	tests := []struct {
		name      string
		env       map[string]string
		args      []string
		wantCode  int
		wantOut   string
		wantErr   string
		wantCalls bool
	}{
		{name: "dry run prints the trigger", wantCode: 0, wantOut: "Would send: POST /project/gh/acme/api/pipeline", wantCalls: true},
		{name: "bad strategy", args: []string{"--strategy", "revert"}, wantCode: 2, wantErr: "PMGUARD_ROLLBACK_STRATEGY"},
		{name: "bad parameters", env: map[string]string{"PMGUARD_ROLLBACK_PARAMETERS": "[1]"}, wantCode: 2, wantErr: "not a JSON object"},
		{name: "no token", env: map[string]string{"CIRCLE_TOKEN": ""}, wantCode: 2, wantErr: "env CIRCLE_TOKEN is empty"},
		{name: "token from another env var", env: map[string]string{"CIRCLE_TOKEN": "", "DEPLOY_BOT_TOKEN": token, "PMGUARD_ROLLBACK_TOKEN_ENV": "DEPLOY_BOT_TOKEN"},
			wantCode: 0, wantOut: "Would send:", wantCalls: true},
		{name: "host without scheme", env: map[string]string{"PMGUARD_CIRCLECI_HOST": "circleci.example.com"}, wantCode: 2, wantErr: "PMGUARD_CIRCLECI_HOST"},
		{name: "invalid token", env: map[string]string{"CIRCLE_TOKEN": "not-" + token}, wantCode: 3, wantErr: "invalid token (env CIRCLE_TOKEN)", wantCalls: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range baseEnv {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			srv.ResetRequests()
			var out, errOut bytes.Buffer
			a := &app{env: config.MapEnv(env), stdout: &out, stderr: &errOut, version: "test"}
			code := a.main(context.Background(), append([]string{"rollback"}, tt.args...))
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, &out, &errOut)
			}
			if !strings.Contains(out.String(), tt.wantOut) || !strings.Contains(errOut.String(), tt.wantErr) {
				t.Fatalf("stdout:\n%s\nstderr:\n%s\nwant %q / %q", &out, &errOut, tt.wantOut, tt.wantErr)
			}
			if strings.Contains(out.String()+errOut.String(), token) {
				t.Fatal("the token is in the output")
			}
			if (srv.Calls() > 0) != tt.wantCalls {
				t.Fatalf("%d API calls, want calls: %v", srv.Calls(), tt.wantCalls)
			}
			if srv.Writes() != 0 {
				t.Fatalf("%d writes in a dry run", srv.Writes())
			}
			if tt.wantCode == 0 && !strings.Contains(out.String(), good.Revision) {
				t.Fatalf("the target commit %s is not in the output:\n%s", good.Revision, &out)
			}
		})
	}
}

// TestRollbackVerbReleaseMarkers: PMGUARD_ROLLBACK_RELEASE_MARKERS reaches
// the circleci CLI on the job's PATH (a stand-in that validates its flags)
// as a rollback plan, and the token reaches no argv.
func TestRollbackVerbReleaseMarkers(t *testing.T) {
	const token = "cci-verb-secret-0123456789"
	srv := circlecitest.New(t, inmemory.Options{Token: token})
	srv.AddProject("gh/acme/api")
	good := srv.AddPipeline("gh/acme/api", inmemory.PipelineSeed{Branch: "main", CreatedAt: srv.Now().Add(-2 * time.Hour),
		Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "success"}}})
	failed := srv.AddPipeline("gh/acme/api", inmemory.PipelineSeed{Branch: "main", CreatedAt: srv.Now().Add(-time.Hour),
		Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "failed"}}})
	cli := markertest.Install(t)
	env := map[string]string{
		"PATH":                             cli.Dir,
		"CIRCLE_TOKEN":                     token,
		"PMGUARD_CIRCLECI_HOST":            srv.URL(),
		"CIRCLE_JOB":                       "deploy-api",
		"CIRCLE_PROJECT_USERNAME":          "acme",
		"CIRCLE_PROJECT_REPONAME":          "api",
		"CIRCLE_BUILD_URL":                 "https://circleci.com/gh/acme/api/123",
		"CIRCLE_WORKFLOW_ID":               failed.Workflows[0].ID,
		"CIRCLE_PIPELINE_ID":               failed.ID,
		"PMGUARD_EVENTS_FILE":              filepath.Join(t.TempDir(), "events.jsonl"),
		"PMGUARD_ROLLBACK_SCHEMA_CHECK":    "off",
		"PMGUARD_ROLLBACK_RELEASE_MARKERS": "true",
		"PMGUARD_ROLLBACK_COMPONENT":       "api",
		"PMGUARD_ROLLBACK_ENVIRONMENT":     "production",
	}
	var out, errOut bytes.Buffer
	a := &app{env: config.MapEnv(env), stdout: &out, stderr: &errOut, version: "test"}
	if code := a.main(context.Background(), []string{"rollback"}); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &out, &errOut)
	}
	want := []string{
		"run release plan deploy-api-rollback --target-version=" + good.Revision + " --environment-name=production --component-name=api --rollback",
		"run release update deploy-api-rollback --status=RUNNING",
	}
	calls := cli.Calls(t)
	if len(calls) != len(want) {
		t.Fatalf("CLI calls %q, want %q\n%s", calls, want, &out)
	}
	for i, c := range calls {
		if got := strings.Join(c, " "); got != want[i] {
			t.Errorf("call %d: %s\nwant %s", i, got, want[i])
		}
		if strings.Contains(strings.Join(c, " "), token) {
			t.Errorf("call %d has the token", i)
		}
	}
}
