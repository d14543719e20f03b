package rollback_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	"github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/rollback"
)

// sha is a 40-digit commit made of one repeated letter: sha('a') = aaaa...
func sha(c byte) string { return strings.Repeat(string(c), 40) }

// step is one pipeline of a history, oldest first.
type step struct {
	rev    byte   // the commit it ran at (a rollback: the branch head)
	deploy string // the deploy workflow's status; "" for no deploy workflow
	// rollbackOf is the 1-based step this pipeline rolls back, and target
	// the version it deploys (pmguard_target_version): a sha letter or a
	// deploy-marker version such as "v1".
	rollbackOf int
	target     string
	// marker is the deploy-marker version the step recorded ("" for none).
	marker string
	// rerun reruns the deploy workflow (or the one rerunName names) of this
	// 1-based step with the given status, after the step's own pipeline was
	// created (the rerun strategy, or a rerun by hand).
	rerun       int
	rerunStatus string
	rerunName   string
	// deploys, when set, are the pipeline's workflows instead of the one
	// deploy workflow: name=status pairs such as "deploy-eu=failed".
	deploys []string
	// tag is the tag the pipeline ran at (then it has no branch unless
	// branch names one); branch is its branch, main by default.
	tag    string
	branch string
	// params are more pipeline parameters, such as release=42.
	params map[string]any
}

// build seeds the stand-in with the history; the last step is the failed
// pipeline the rollback starts from.
func build(t *testing.T, steps []step, markers bool) *history {
	t.Helper()
	h := &history{slug: "gh/acme/api"}
	h.srv = circlecitest.New(t, inmemory.Options{Token: token})
	h.srv.AddProject(h.slug)
	var comp *inmemory.Component
	var env *inmemory.Environment
	if markers {
		def := h.srv.AddDefinition(h.slug, "rollback")
		h.srv.SetRollbackDefinition(h.slug, def.ID)
		env = h.srv.AddEnvironment(h.slug, "production")
		comp = h.srv.AddComponent(h.slug, "api")
	}
	// Each step happens an hour after the one before, on the stand-in's
	// clock, so a rerun falls between the pipelines around it.
	for _, s := range steps {
		h.srv.Clock().Advance(time.Hour)
		at := h.srv.Now()
		if s.rerun > 0 {
			orig := h.all[s.rerun-1]
			name := s.rerunName
			if name == "" {
				name = "deploy"
			}
			c := h.srv.Client(t)
			id, err := c.Workflows.Rerun(context.Background(), h.workflowNamed(orig, name), circleci.RerunRequest{})
			if err != nil {
				t.Fatal(err)
			}
			h.srv.SetWorkflowStatus(id, s.rerunStatus)
			h.all = append(h.all, orig)
			continue
		}
		seed := inmemory.PipelineSeed{Branch: s.branch, Tag: s.tag, Revision: sha(s.rev), CreatedAt: at}
		if s.branch == "" && s.tag == "" {
			seed.Branch = "main"
		}
		if s.deploy != "" {
			seed.Workflows = []inmemory.WorkflowSeed{{Name: "deploy", Status: s.deploy}}
		}
		for _, d := range s.deploys {
			name, status, _ := strings.Cut(d, "=")
			seed.Workflows = append(seed.Workflows, inmemory.WorkflowSeed{Name: name, Status: status})
		}
		if s.rollbackOf > 0 {
			tv := s.target
			if len(tv) == 1 {
				tv = sha(tv[0])
			}
			seed.TriggerType = "api"
			seed.Params = map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.all[s.rollbackOf-1].ID, rollback.ParamTargetVersion: tv}
		}
		for k, v := range s.params {
			if seed.Params == nil {
				seed.Params = map[string]any{}
			}
			seed.Params[k] = v
		}
		p := h.srv.AddPipeline(h.slug, seed)
		h.all = append(h.all, p)
		if markers && s.marker != "" {
			h.srv.AddVersion(comp, env, s.marker, p)
		}
	}
	h.failed = h.all[len(h.all)-1]
	return h
}

// TestTargetOverHistories is the target rule over the histories where a
// naive walk goes wrong: each case names the version it must roll back to
// and why. Without markers versions are commits (a letter stands for a
// 40-digit SHA); with markers they are the markers' version names.
func TestTargetOverHistories(t *testing.T) {
	tests := []struct {
		name    string
		steps   []step
		markers bool
		args    []string // more settings, such as a deploy_workflow glob
		want    string   // a sha letter, a marker version, or "" for no target (exit 1)
		why     string
	}{
		{name: "reference incident: a legacy-trigger rollback ran at the failed head",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "failed"}, {rev: 'b', deploy: "success", rollbackOf: 2, target: "a"}, {rev: 'c', deploy: "failed"}},
			want:  "a", why: "pipeline 3 deployed aaaa (its pmguard_target_version), not its branch head bbbb, which failed in pipeline 2"},
		{name: "rollback of a rollback",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rev: 'c', deploy: "failed"},
				{rev: 'c', deploy: "success", rollbackOf: 3, target: "b"}, {rev: 'c', deploy: "canceled", rollbackOf: 4, target: "a"}, {rev: 'd', deploy: "failed"}},
			want: "a", why: "pipeline 5 rolled back pipeline 4, so bbbb is bad although both its deploys succeeded; pipeline 5 itself was cancelled and says nothing about aaaa"},
		{name: "forward fix after a rollback",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "failed"}, {rev: 'b', deploy: "success", rollbackOf: 2, target: "a"},
				{rev: 'c', deploy: "success"}, {rev: 'd', deploy: "failed"}},
			want: "c", why: "the fix cccc deployed successfully after the rollback and nothing rolled it back"},
		{name: "two rollbacks in a day",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "failed"}, {rev: 'b', deploy: "success", rollbackOf: 2, target: "a"},
				{rev: 'c', deploy: "success"}, {rev: 'd', deploy: "failed"}, {rev: 'd', deploy: "success", rollbackOf: 5, target: "c"}, {rev: 'e', deploy: "failed"}},
			want: "c", why: "the second rollback (pipeline 6) deployed cccc, the newest good version"},
		{name: "two rollbacks in a day, the second failed",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "failed"}, {rev: 'b', deploy: "success", rollbackOf: 2, target: "a"},
				{rev: 'c', deploy: "success"}, {rev: 'd', deploy: "failed"}, {rev: 'd', deploy: "failed", rollbackOf: 5, target: "c"}, {rev: 'e', deploy: "failed"}},
			want: "a", why: "deploying cccc failed in pipeline 6 (newer than its success in 4), dddd failed and was rolled back; pipeline 3 deployed aaaa"},
		{name: "a failed deploy after a rollback retries the bad commit",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "failed"}, {rev: 'b', deploy: "success", rollbackOf: 2, target: "a"}, {rev: 'b', deploy: "failed"}},
			want:  "a", why: "bbbb failed twice and is the failed pipeline's own commit"},
		{name: "a deploy that succeeded but was rolled back",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rev: 'b', deploy: "canceled", rollbackOf: 2, target: "a"}, {rev: 'c', deploy: "failed"}},
			want:  "a", why: "pipeline 3 names pipeline 2 in pmguard_rollback_of: bbbb is bad though its deploy succeeded"},
		{name: "rerun strategy: the rollback reran the good deploy",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "failed"}, {rerun: 1, rerunStatus: "success"}, {rev: 'c', deploy: "failed"}},
			want:  "a", why: "pipeline 1's newest deploy run (the rerun) succeeded"},
		{name: "rerun strategy: the rerun rollback failed",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rev: 'c', deploy: "failed"}, {rerun: 2, rerunStatus: "failed"}, {rev: 'd', deploy: "failed"}},
			want:  "a", why: "pipeline 2's newest deploy run (the rerun) failed, so bbbb is bad"},
		{name: "nothing good left",
			steps: []step{{rev: 'a', deploy: "failed"}, {rev: 'b', deploy: "success"}, {rev: 'b', deploy: "canceled", rollbackOf: 2, target: "a"}, {rev: 'c', deploy: "failed"}},
			want:  "", why: "bbbb was rolled back, the rollback to aaaa was cancelled and aaaa failed in pipeline 1: exit 1, set a version"},
		{name: "markers: the rollback API's rollback recorded no version",
			steps: []step{{rev: 'a', deploy: "success", marker: "v1"}, {rev: 'b', deploy: "failed", marker: "v2"},
				{rev: 'b', deploy: "success", rollbackOf: 2, target: "v1"}, {rev: 'c', deploy: "failed", marker: "v3"}},
			markers: true, want: "v1", why: "v2's deploy workflow failed: markers list v3, v2, v1 and v2 is passed over"},
		{name: "markers: the rollback recorded its version",
			steps: []step{{rev: 'a', deploy: "success", marker: "v1"}, {rev: 'b', deploy: "failed", marker: "v2"},
				{rev: 'b', deploy: "success", rollbackOf: 2, target: "v1", marker: "v1"}, {rev: 'c', deploy: "failed", marker: "v3"}},
			markers: true, want: "v1", why: "the newest version before v3 is v1, recorded by the rollback"},
		{name: "markers: a version that succeeded but was rolled back",
			steps: []step{{rev: 'a', deploy: "success", marker: "v1"}, {rev: 'b', deploy: "success", marker: "v2"},
				{rev: 'b', deploy: "success", rollbackOf: 2, target: "v1"}, {rev: 'c', deploy: "failed", marker: "v3"}},
			markers: true, want: "v1", why: "pipeline 3 rolled back v2's pipeline"},
		{name: "markers: a version whose deploy waits for approval",
			steps:   []step{{rev: 'a', deploy: "success", marker: "v1"}, {rev: 'b', deploy: "on_hold", marker: "v2"}, {rev: 'c', deploy: "failed", marker: "v3"}},
			markers: true, want: "v1", why: "v2's deploy workflow is on hold: it never finished deploying v2"},
		{name: "a rollback to an abbreviated commit failed",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rev: 'c', deploy: "failed"},
				{rev: 'c', deploy: "failed", rollbackOf: 3, target: "bbbbbbb"}, {rev: 'd', deploy: "failed"}},
			want: "a", why: "deploying bbbbbbb failed in pipeline 4, and bbbbbbb is bbbb...: pipeline 2's success is older"},
		{name: "an abbreviated commit a rollback deployed is the failed commit",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rev: 'c', deploy: "failed"},
				{rev: 'c', deploy: "success", rollbackOf: 3, target: "BBBBBBBB"}, {rev: 'b', deploy: "failed"}},
			want: "a", why: "pipeline 4 deployed bbbbbbbb, which is bbbb..., the failed pipeline's commit"},
		{name: "a rollback to a tag failed",
			steps: []step{{rev: 'a', tag: "v1.0", deploy: "success"}, {rev: 'b', tag: "v1.1", deploy: "success"}, {rev: 'c', tag: "v1.2", deploy: "failed"},
				{rev: 'b', tag: "v1.1", deploy: "failed", rollbackOf: 3, target: "v1.1"}, {rev: 'd', tag: "v1.3", deploy: "failed"}},
			want: "a", why: "deploying v1.1 failed in pipeline 4: pipeline 2 ran at v1.1 (bbbb...), so its older success does not count"},
		{name: "a tag whose commit failed",
			steps: []step{{rev: 'a', tag: "v1.0", deploy: "success"}, {rev: 'b', tag: "v1.1", deploy: "success"}, {rev: 'c', tag: "v1.2", deploy: "failed"},
				{rev: 'b', tag: "v1.1", deploy: "success", rollbackOf: 3, target: "v1.1"}, {rev: 'b', tag: "v1.1-rc", deploy: "failed"}},
			want: "a", why: "the failed pipeline ran at bbbb..., the commit of v1.1 that pipeline 4 deployed"},
		{name: "a tag deploy rolls back to a tag deploy, not another branch's commit",
			steps: []step{{rev: 'a', tag: "v1.0", deploy: "success"}, {rev: 'e', branch: "feature/experiment", deploy: "success"}, {rev: 'd', tag: "v1.1", deploy: "failed"}},
			want:  "a", why: "pipeline 2 ran on a branch; the failed pipeline ran at a tag"},
		{name: "a tag deploy with no earlier tag deploy",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'e', branch: "feature/experiment", deploy: "success"}, {rev: 'd', tag: "v1.1", deploy: "failed"}},
			want:  "", why: "only branch pipelines succeeded before the failed tag deploy: exit 1, set a version"},
		{name: "a glob: one deploy workflow failed and another succeeded",
			steps: []step{{rev: 'a', deploys: []string{"deploy-eu=success", "deploy-us=success"}}, {rev: 'b', deploys: []string{"deploy-eu=failed", "deploy-us=success"}},
				{rev: 'c', deploys: []string{"deploy-eu=failed", "deploy-us=success"}}},
			args: []string{"--deploy-workflow", "deploy-*"}, want: "a", why: "deploy-eu failed in pipeline 2: bbbb is bad although deploy-us succeeded"},
		{name: "a glob: the failed deploy workflow was rerun and succeeded",
			steps: []step{{rev: 'a', deploys: []string{"deploy-eu=success", "deploy-us=success"}}, {rev: 'b', deploys: []string{"deploy-eu=failed", "deploy-us=success"}},
				{rerun: 2, rerunName: "deploy-eu", rerunStatus: "success"}, {rev: 'c', deploys: []string{"deploy-eu=failed", "deploy-us=success"}}},
			args: []string{"--deploy-workflow", "deploy-*"}, want: "b", why: "the newest run of each of pipeline 2's deploy workflows succeeded"},
		{name: "a glob: a rerun of the deploy workflow that had succeeded failed",
			steps: []step{{rev: 'a', deploys: []string{"deploy-eu=success", "deploy-us=success"}}, {rev: 'b', deploys: []string{"deploy-eu=success", "deploy-us=success"}},
				{rerun: 2, rerunName: "deploy-us", rerunStatus: "failed"}, {rev: 'c', deploys: []string{"deploy-eu=failed", "deploy-us=success"}}},
			args: []string{"--deploy-workflow", "deploy-*"}, want: "a", why: "pipeline 2's newest deploy-us run failed, so bbbb is bad"},
		{name: "a glob: one deploy workflow was cancelled",
			steps: []step{{rev: 'a', deploys: []string{"deploy-eu=success", "deploy-us=success"}}, {rev: 'b', deploys: []string{"deploy-eu=canceled", "deploy-us=success"}},
				{rev: 'c', deploys: []string{"deploy-eu=failed", "deploy-us=success"}}},
			args: []string{"--deploy-workflow", "deploy-*"}, want: "a", why: "pipeline 2 did not deploy bbbb everywhere: not a target, and not evidence against it"},
		{name: "a cancelled rerun of a good deploy",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rerun: 2, rerunStatus: "canceled"}, {rev: 'c', deploy: "failed"}},
			want:  "b", why: "the cancelled rerun says nothing about bbbb; the run it repeated succeeded"},
		{name: "a rerun of a good deploy waiting for approval",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rerun: 2, rerunStatus: "on_hold"}, {rev: 'c', deploy: "failed"}},
			want:  "b", why: "the rerun on hold says nothing about bbbb; the run it repeated succeeded"},
		{name: "a cancelled duplicate rerun rollback",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "failed"}, {rerun: 1, rerunStatus: "success"}, {rerun: 1, rerunStatus: "canceled"}, {rev: 'c', deploy: "failed"}},
			want:  "a", why: "the cancelled duplicate says nothing; the rerun before it succeeded"},
		{name: "no markers: the same history by commits",
			steps: []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rev: 'b', deploy: "success", rollbackOf: 2, target: "a"}, {rev: 'c', deploy: "failed"}},
			want:  "a", why: "pipeline 3 deployed aaaa and rolled back bbbb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := build(t, tt.steps, tt.markers)
			strategy := "trigger"
			if tt.markers {
				strategy = "rollback_pipeline"
			}
			hs := h.options(t, append([]string{"--strategy", strategy}, tt.args...)...)
			res, err := rollback.Do(context.Background(), hs.opts)
			if tt.want == "" {
				if exitcode.Of(err) != exitcode.Fail {
					t.Fatalf("err %v (exit %d), want exit 1: %s\n%s", err, exitcode.Of(err), tt.why, hs.out)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v\n%s", err, hs.out)
			}
			want := tt.want
			if len(want) == 1 {
				want = sha(want[0])
			}
			if res.Target.Version != want {
				t.Fatalf("target %s, want %s: %s\n%s", res.Target.Version, want, tt.why, hs.out)
			}
			rbs := h.rollbacksOf(h.failed)
			if len(rbs) != 1 || rbs[0].Params[rollback.ParamTargetVersion] != want {
				t.Fatalf("rollback pipelines %d, deploying %v; want one deploying %s", len(rbs), rbs, want)
			}
			if !strings.Contains(hs.out.String(), "why:") {
				t.Errorf("the output does not say why:\n%s", hs.out)
			}
		})
	}
}

// With a glob, the target is a pipeline whose every matching deploy
// workflow succeeded, and the output names them all.
func TestGlobTargetNamesEveryDeployWorkflow(t *testing.T) {
	h := build(t, []step{{rev: 'a', deploys: []string{"deploy-eu=success", "deploy-us=success"}},
		{rev: 'b', deploys: []string{"deploy-eu=failed", "deploy-us=success"}},
		{rev: 'c', deploys: []string{"deploy-eu=failed", "deploy-us=success"}}}, false)
	hs := h.options(t, "--strategy", "trigger", "--deploy-workflow", "deploy-*", "--dry-run")
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, hs.out)
	}
	if res.Target.PipelineID != h.all[0].ID || strings.Join(res.Target.DeployWorkflows, ",") != "deploy-eu,deploy-us" {
		t.Fatalf("target %+v, want pipeline %d with deploy-eu and deploy-us", res.Target, h.all[0].Number)
	}
	for _, want := range []string{"workflows deploy-eu, deploy-us)", "whose deploy workflows deploy-eu, deploy-us all succeeded"} {
		if !strings.Contains(hs.out.String(), want) {
			t.Errorf("output does not say %q:\n%s", want, hs.out)
		}
	}
}

// A tag deploy's rollback runs at the target's tag, and what it prints
// names the tag pipelines it searched, never an empty branch.
func TestTagDeployTarget(t *testing.T) {
	h := build(t, []step{{rev: 'a', tag: "v1.0", deploy: "success"}, {rev: 'e', branch: "feature/experiment", deploy: "success"},
		{rev: 'd', tag: "v1.1", deploy: "failed"}}, false)
	hs := h.options(t, "--strategy", "trigger")
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, hs.out)
	}
	if res.Target.PipelineID != h.all[0].ID || res.Target.Tag != "v1.0" {
		t.Fatalf("target %+v, want pipeline 1 at v1.0", res.Target)
	}
	rbs := h.rollbacksOf(h.failed)
	if len(rbs) != 1 || rbs[0].Tag != "v1.0" || rbs[0].Branch != "" {
		t.Fatalf("rollback pipelines %+v, want one at tag v1.0", rbs)
	}
	if out := hs.out.String(); strings.Contains(out, "branch  ") || !strings.Contains(out, "among the pipelines that ran at a tag before the failed pipeline 3") {
		t.Errorf("output does not name what was searched:\n%s", out)
	}

	none := build(t, []step{{rev: 'e', branch: "feature/experiment", deploy: "success"}, {rev: 'd', tag: "v1.1", deploy: "failed"}}, false)
	hs = none.options(t, "--strategy", "trigger")
	_, err = rollback.Do(context.Background(), hs.opts)
	if exitcode.Of(err) != exitcode.Fail || !strings.Contains(err.Error(), `no previous successful run of workflow "deploy" among the pipelines that ran at a tag before pipeline 2`) {
		t.Fatalf("err %v (exit %d), want exit 1 naming the tag pipelines", err, exitcode.Of(err))
	}
}

// Candidates are checked to be on the failed pipeline's branch even when
// the pipeline list holds other branches' (a list that ignored its branch
// filter).
func TestBranchDeployTargetIsOnTheBranch(t *testing.T) {
	h := build(t, []step{{rev: 'a', deploy: "success"}, {rev: 'e', branch: "feature/experiment", deploy: "success"}, {rev: 'd', deploy: "failed"}}, false)
	hs := h.options(t, "--strategy", "trigger")
	var unfiltered atomic.Int64
	h.front(t, hs, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || r.URL.Path != "/api/v2/project/"+h.slug+"/pipeline" || r.URL.Query().Get("branch") == "" {
			return false
		}
		all := r.Clone(r.Context())
		q := all.URL.Query()
		q.Del("branch")
		all.URL.RawQuery = q.Encode()
		unfiltered.Add(1)
		h.srv.ServeHTTP(w, all)
		return true
	})
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, hs.out)
	}
	if unfiltered.Load() == 0 {
		t.Fatal("the walk did not list the branch's pipelines")
	}
	if res.Target.PipelineID != h.all[0].ID || res.Target.Branch != "main" {
		t.Fatalf("target %+v, want pipeline 1 on main", res.Target)
	}
}

// A version given by name, or read from deploy markers, that is the one
// being rolled back is refused before anything is triggered: under any of
// its names it would deploy the failure again.
func TestGivenVersionThatFailedIsRefused(t *testing.T) {
	commits := []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rev: 'c', deploy: "failed"}}
	tags := []step{{rev: 'a', tag: "v1.0", deploy: "success"}, {rev: 'c', tag: "v1.1", deploy: "failed"}}
	params := []step{{rev: 'a', deploy: "success", params: map[string]any{"release": "41"}}, {rev: 'c', deploy: "failed", params: map[string]any{"release": "42"}}}
	markers := []step{{rev: 'a', deploy: "success", marker: "v1"}, {rev: 'c', deploy: "failed", marker: "v2"}}
	// release=42 deployed well once and failed now: going back to it is the failure again.
	paramAgain := []step{{rev: 'a', deploy: "success", params: map[string]any{"release": "42"}}, {rev: 'c', deploy: "failed", params: map[string]any{"release": "42"}}}
	tests := []struct {
		name    string
		steps   []step
		markers bool
		args    []string
		refuse  bool
	}{
		{"the failed commit", commits, false, []string{"--version", sha('c')}, true},
		{"the failed commit abbreviated, upper case", commits, false, []string{"--version", "CCCCCCC"}, true},
		{"the failed tag", tags, false, []string{"--version", "tag:v1.1"}, true},
		{"the failed tag without tag:", tags, false, []string{"--version", "v1.1"}, true},
		{"the failed pipeline's parameter value, deployed well before", paramAgain, false, []string{"--version", "release=42"}, true},
		{"the marker's current version", markers, true, []string{"--version", "v2", "--strategy", "rollback_pipeline"}, true},
		{"an earlier commit", commits, false, []string{"--version", sha('b')}, false},
		{"an earlier tag", tags, false, []string{"--version", "tag:v1.0"}, false},
		{"an earlier parameter", params, false, []string{"--version", "release=41"}, false},
		{"an earlier marker", markers, true, []string{"--version", "v1", "--strategy", "rollback_pipeline"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := build(t, tt.steps, tt.markers)
			args := tt.args
			if !slices.Contains(args, "--strategy") {
				args = append(args, "--strategy", "trigger")
			}
			hs := h.options(t, args...)
			_, err := rollback.Do(context.Background(), hs.opts)
			rbs := h.rollbacksOf(h.failed)
			if !tt.refuse {
				if err != nil || len(rbs) != 1 {
					t.Fatalf("err %v, %d rollback pipelines; want one\n%s", err, len(rbs), hs.out)
				}
				return
			}
			if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "is the version being rolled back") {
				t.Fatalf("err %v (exit %d), want exit 2 saying it is the version being rolled back\n%s", err, exitcode.Of(err), hs.out)
			}
			if len(rbs) != 0 || h.srv.Writes() != 0 {
				t.Fatalf("%d rollback pipelines, %d writes; want none", len(rbs), h.srv.Writes())
			}
		})
	}
}

// TestGivenVersionKnownBadIsRefused: a version given by hand whose newest
// deploy failed, or was rolled back, is refused before anything is
// triggered, with the evidence; a version whose deploy was rerun and
// succeeded, or that deployed well, is not.
func TestGivenVersionKnownBadIsRefused(t *testing.T) {
	failedBefore := []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "failed"}, {rev: 'c', deploy: "success"}, {rev: 'd', deploy: "failed"}}
	rolledBack := []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rev: 'b', deploy: "success", rollbackOf: 2, target: "a"}, {rev: 'd', deploy: "failed"}}
	fixedByRerun := []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "failed"}, {rerun: 2, rerunStatus: "success"}, {rev: 'd', deploy: "failed"}}
	// A rollback to the abbreviation bbbbbbb failed: the full SHA is that version.
	abbrevFailed := []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "success"}, {rev: 'c', deploy: "failed"},
		{rev: 'c', deploy: "failed", rollbackOf: 3, target: "bbbbbbb"}, {rev: 'd', deploy: "failed"}}
	tests := []struct {
		name   string
		steps  []step
		args   []string
		refuse string // what the refusal says; "" for accepted
	}{
		{"failed in an older pipeline (rerun)", failedBefore, []string{"--version", sha('b'), "--strategy", "rerun"}, "its deploy failed in pipeline 2"},
		{"failed in an older pipeline (auto)", failedBefore, []string{"--version", sha('b')[:12]}, "its deploy failed in pipeline 2"},
		{"rolled back later", rolledBack, []string{"--version", sha('b'), "--strategy", "rerun"}, "pipeline 3 rolled it back"},
		{"deployed well", failedBefore, []string{"--version", sha('c'), "--strategy", "rerun"}, ""},
		{"failed, then its rerun succeeded", fixedByRerun, []string{"--version", sha('b'), "--strategy", "rerun"}, ""},
		{"its rollback under an abbreviation failed (rerun)", abbrevFailed, []string{"--version", sha('b'), "--strategy", "rerun"}, "its deploy failed in pipeline 4"},
		{"its rollback under an abbreviation failed (auto)", abbrevFailed, []string{"--version", sha('b')[:10]}, "its deploy failed in pipeline 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := build(t, tt.steps, false)
			hs := h.options(t, tt.args...)
			_, err := rollback.Do(context.Background(), hs.opts)
			if tt.refuse == "" {
				if err != nil || h.srv.Writes() == 0 {
					t.Fatalf("err %v, %d writes; want the rollback started\n%s", err, h.srv.Writes(), hs.out)
				}
				return
			}
			if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "shows it bad ("+tt.refuse) {
				t.Fatalf("err %v (exit %d), want exit 2 saying %q\n%s", err, exitcode.Of(err), tt.refuse, hs.out)
			}
			if h.srv.Writes() != 0 {
				t.Fatalf("%d writes; want none", h.srv.Writes())
			}
		})
	}
}

// TestRerunOfSeveralDeployWorkflowsIsRefused: rerun is one workflow; with a
// deploy_workflow glob that matches several, rerunning one would report a
// rollback while the others stay at the failed version.
func TestRerunOfSeveralDeployWorkflowsIsRefused(t *testing.T) {
	steps := []step{{rev: 'a', deploys: []string{"deploy-eu=success", "deploy-us=success"}}, {rev: 'b', deploys: []string{"deploy-eu=failed", "deploy-us=success"}}}
	h := build(t, steps, false)
	hs := h.options(t, "--strategy", "rerun", "--deploy-workflow", "deploy-*")
	_, err := rollback.Do(context.Background(), hs.opts)
	if exitcode.Of(err) != exitcode.Fail || !strings.Contains(err.Error(), "is 2 workflows (deploy-eu, deploy-us)") {
		t.Fatalf("err %v (exit %d), want exit 1 naming both workflows\n%s", err, exitcode.Of(err), hs.out)
	}
	if h.srv.Writes() != 0 {
		t.Fatalf("%d writes; want none", h.srv.Writes())
	}
	// One workflow named: the rerun goes ahead.
	h = build(t, steps, false)
	hs = h.options(t, "--strategy", "rerun", "--deploy-workflow", "deploy-eu")
	if _, err := rollback.Do(context.Background(), hs.opts); err != nil || h.srv.Writes() == 0 {
		t.Fatalf("err %v, %d writes; want the rerun started\n%s", err, h.srv.Writes(), hs.out)
	}
}

// The pipeline list shifts while the walk pages through it (new pipelines
// arrive, so a page repeats the end of the one before) and the API writes
// its times in another zone: the walk finds the same target, and says of
// each deploy it passed over once.
func TestWalkOverShiftingPagesInAnotherZone(t *testing.T) {
	steps := []step{{rev: 'a', deploy: "success"}}
	for i := 0; i < 43; i++ {
		steps = append(steps, step{rev: 'c', deploy: "success"})
	}
	steps = append(steps, step{rev: 'c', deploy: "failed"})
	h := build(t, steps, false)
	hs := h.options(t, "--strategy", "trigger")
	zone := time.FixedZone("IST", 5*3600+1800)
	stamp := regexp.MustCompile(`"\d{4}-\d\d-\d\dT[0-9:.]+Z"`)
	arrived := 0
	h.front(t, hs, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet {
			return false
		}
		if strings.HasSuffix(r.URL.Path, "/pipeline") && r.URL.Query().Get("page-token") != "" {
			for i := 0; i < 3; i++ { // pushes on main while the walk reads
				h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", Revision: sha('e'), Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "running"}}})
				arrived++
			}
		}
		rec := httptest.NewRecorder()
		h.srv.ServeHTTP(rec, r)
		body := stamp.ReplaceAllFunc(rec.Body.Bytes(), func(b []byte) []byte {
			at, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
			if err != nil {
				t.Error(err)
				return b
			}
			return []byte(`"` + at.In(zone).Format(time.RFC3339Nano) + `"`)
		})
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
		return true
	})
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, hs.out)
	}
	if arrived == 0 || res.Target.PipelineID != h.all[0].ID || res.Target.PagesSearched != 3 {
		t.Fatalf("%d arrived; target %+v, want pipeline 1 on page 3\n%s", arrived, res.Target, hs.out)
	}
	seen := map[string]bool{}
	for _, s := range res.Target.Skipped {
		if seen[s] {
			t.Fatalf("passed over twice: %s", s)
		}
		seen[s] = true
	}
	if len(seen) != 43 {
		t.Fatalf("%d deploys passed over, want 43", len(seen))
	}
}

// With deploy markers, a version whose deploy succeeded and was then
// rolled back stays passed over however many pipelines of other branches
// ran since the rollback: the pipelines are read back as far as max_pages.
func TestMarkersRolledBackLongAgo(t *testing.T) {
	steps := []step{{rev: 'a', deploy: "success", marker: "v1"}, {rev: 'b', deploy: "success", marker: "v2"},
		{rev: 'b', deploy: "success", rollbackOf: 2, target: "v1"}}
	for i := 0; i < 45; i++ {
		steps = append(steps, step{rev: 'e', branch: "feature"})
	}
	steps = append(steps, step{rev: 'c', deploy: "failed", marker: "v3"})
	h := build(t, steps, true)
	hs := h.options(t, "--strategy", "rollback_pipeline")
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, hs.out)
	}
	if res.Target.Version != "v1" || !strings.Contains(res.Target.Why, "pipeline 3 rolled it back") {
		t.Fatalf("target %s (%s), want v1: v2 was rolled back by pipeline 3\n%s", res.Target.Version, res.Target.Why, hs.out)
	}
}

// TestGivenVersionRuleInEveryStrategy: a version given by hand follows one
// rule whatever starts the rollback: known bad (its newest deploy failed,
// or it was rolled back) is refused as bad input naming the version
// setting, before any write; one that no record shows deployed
// successfully is rolled back to with a warning that says so.
func TestGivenVersionRuleInEveryStrategy(t *testing.T) {
	failedBefore := []step{{rev: 'a', deploy: "success", marker: "v1"}, {rev: 'b', deploy: "failed", marker: "v2"}, {rev: 'c', deploy: "success", marker: "v3"}, {rev: 'd', deploy: "failed", marker: "v4"}}
	rolledBack := []step{{rev: 'a', deploy: "success", marker: "v1"}, {rev: 'b', deploy: "success", marker: "v2"}, {rev: 'b', deploy: "success", rollbackOf: 2, target: "a"}, {rev: 'd', deploy: "failed", marker: "v4"}}
	cancelledOnly := []step{{rev: 'a', deploy: "success"}, {rev: 'b', deploy: "canceled"}, {rev: 'd', deploy: "failed"}}
	strategies := [][]string{{"--strategy", "trigger"}, {"--strategy", "definition"}, {"--strategy", "auto"}, {"--strategy", "rerun"}}
	for _, st := range strategies {
		for _, tc := range []struct {
			name    string
			steps   []step
			version string
			refuse  string
		}{
			{"failed in an older pipeline", failedBefore, sha('b'), "its deploy failed in pipeline 2"},
			{"rolled back later", rolledBack, sha('b')[:9], "pipeline 3 rolled it back"},
			{"the failed commit", failedBefore, sha('d'), "is the version being rolled back"},
		} {
			t.Run(st[1]+": "+tc.name, func(t *testing.T) {
				h := build(t, tc.steps, false)
				args := append([]string{"--version", tc.version}, st...)
				if st[1] == "definition" {
					args = append(args, "--definition-id", h.srv.AddDefinition(h.slug, "deploy").ID)
				}
				hs := h.options(t, args...)
				_, err := rollback.Do(context.Background(), hs.opts)
				if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), tc.refuse) ||
					!strings.Contains(err.Error(), "PMGUARD_ROLLBACK_VERSION") || !strings.Contains(err.Error(), "invalid version") {
					t.Fatalf("err %v (exit %d), want exit 2 naming the version setting and %q\n%s", err, exitcode.Of(err), tc.refuse, hs.out)
				}
				if h.srv.Writes() != 0 {
					t.Fatalf("%d writes; want none", h.srv.Writes())
				}
			})
		}
	}
	t.Run("rerun: a commit no pipeline ran has no run to rerun", func(t *testing.T) {
		h := build(t, failedBefore, false)
		hs := h.options(t, "--version", sha('e'), "--strategy", "rerun")
		_, err := rollback.Do(context.Background(), hs.opts)
		if exitcode.Of(err) != exitcode.Fail || !strings.Contains(err.Error(), "needs a run") || strings.Contains(hs.out.String(), "rolling back to it") {
			t.Fatalf("err %v (exit %d), want exit 1 saying rerun needs a run, and no word of rolling back to it\n%s", err, exitcode.Of(err), hs.out)
		}
	})
	t.Run("a parameter value whose newest deploy failed", func(t *testing.T) {
		h := build(t, []step{{rev: 'a', deploy: "success", params: map[string]any{"release": "41"}}, {rev: 'b', deploy: "failed", params: map[string]any{"release": "41"}},
			{rev: 'c', deploy: "failed", params: map[string]any{"release": "42"}}}, false)
		hs := h.options(t, "--version", "release=41", "--strategy", "trigger")
		_, err := rollback.Do(context.Background(), hs.opts)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "its deploy failed in pipeline 2") {
			t.Fatalf("err %v (exit %d), want exit 2 saying its deploy failed in pipeline 2\n%s", err, exitcode.Of(err), hs.out)
		}
	})
	t.Run("rollback_pipeline: a marker whose deploy failed", func(t *testing.T) {
		h := build(t, failedBefore, true)
		hs := h.options(t, "--version", "v2", "--strategy", "rollback_pipeline")
		_, err := rollback.Do(context.Background(), hs.opts)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "ended failed") {
			t.Fatalf("err %v (exit %d), want exit 2 saying its deploy failed\n%s", err, exitcode.Of(err), hs.out)
		}
		if h.srv.Writes() != 0 {
			t.Fatalf("%d writes; want none", h.srv.Writes())
		}
	})
	t.Run("rollback_pipeline: a marker whose pipeline was rolled back", func(t *testing.T) {
		h := build(t, rolledBack, true)
		hs := h.options(t, "--version", "v2", "--strategy", "rollback_pipeline")
		_, err := rollback.Do(context.Background(), hs.opts)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "pipeline 3 rolled it back") {
			t.Fatalf("err %v (exit %d), want exit 2 saying it was rolled back\n%s", err, exitcode.Of(err), hs.out)
		}
	})
	for _, tc := range []struct {
		name, strategy, version string
		steps                   []step
		markers                 bool
		says                    string
	}{
		{"a commit no pipeline ran", "trigger", sha('e'), failedBefore, false, "no deploy of it on branch main"},
		{"a commit no pipeline ran (definition)", "definition", sha('e'), failedBefore, false, "no deploy of it on branch main"},
		{"a commit whose only deploy was cancelled", "trigger", sha('b'), cancelledOnly, false, "did not succeed"},
		{"a commit whose only deploy was cancelled (rerun)", "rerun", sha('b'), cancelledOnly, false, "did not succeed"},
		{"a marker version never recorded", "rollback_pipeline", "v9", failedBefore, true, "deploy markers list no version v9"},
		{"a marker whose deploy waits for approval", "rollback_pipeline", "v2",
			[]step{{rev: 'a', deploy: "success", marker: "v1"}, {rev: 'b', deploy: "on_hold", marker: "v2"}, {rev: 'c', deploy: "failed", marker: "v3"}}, true, "is on_hold, not finished"},
	} {
		t.Run("warns: "+tc.name, func(t *testing.T) {
			h := build(t, tc.steps, tc.markers)
			args := []string{"--version", tc.version, "--strategy", tc.strategy}
			if tc.strategy == "definition" {
				args = append(args, "--definition-id", h.srv.AddDefinition(h.slug, "deploy").ID)
			}
			hs := h.options(t, args...)
			res, err := rollback.Do(context.Background(), hs.opts)
			if err != nil || res.Outcome != rollback.OutcomeInitiated {
				t.Fatalf("err %v, result %+v; want the rollback started\n%s", err, res, hs.out)
			}
			out := hs.out.String()
			if !strings.Contains(out, "Warning: version "+tc.version) || !strings.Contains(out, tc.says) {
				t.Fatalf("output does not warn that no record shows %s deployed successfully (%q):\n%s", tc.version, tc.says, out)
			}
			evs := events.Filter(readEvents(t, hs.events), events.RollbackInitiated)
			if len(evs) != 1 || !strings.Contains(evs[0].Message, "no record shows it deployed successfully") {
				t.Fatalf("rollback_initiated %+v does not carry the warning", evs)
			}
		})
	}
}

// TestPipelineNumberVersion: version pipeline:<number> rolls back to what
// that pipeline deployed (its commit; a rollback pipeline's target; a tag
// deploy's tag), under the same rule as any given version: the failed
// pipeline, a newer one, one the project lacks, or one whose version is
// known bad are refused (exit 2) before any write.
func TestPipelineNumberVersion(t *testing.T) {
	steps := []step{
		{rev: 'a', deploy: "success"},                             // 1
		{rev: 'b', deploy: "failed"},                              // 2
		{rev: 'b', deploy: "success", rollbackOf: 2, target: "a"}, // 3: deployed aaaa
		{rev: 'c', deploy: "success"},                             // 4
		{rev: 'd', deploy: "canceled"},                            // 5
		{rev: 'e', deploy: "failed"},                              // 6: the failed one
	}
	for _, tc := range []struct {
		name, version, strategy string
		want                    string // the version rolled back to
		refuse                  string // what the refusal says
		warns                   bool
	}{
		{"a good pipeline (trigger)", "pipeline:4", "trigger", sha('c'), "", false},
		{"a good pipeline (rerun)", "pipeline:4", "rerun", sha('c'), "", false},
		{"a rollback pipeline deployed its target", "pipeline:3", "trigger", sha('a'), "", false},
		{"a pipeline whose deploy failed", "pipeline:2", "trigger", "", "pipeline 3 rolled it back", false},
		{"a pipeline whose deploy failed (definition)", "pipeline:2", "definition", "", "pipeline 3 rolled it back", false},
		{"a pipeline whose deploy was cancelled", "pipeline:5", "trigger", sha('d'), "", true},
		{"the failed pipeline", "pipeline:6", "trigger", "", "pipeline 6 is the failed pipeline", false},
		{"a newer pipeline", "pipeline:9", "trigger", "", "newer than the failed pipeline 6", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := build(t, steps, false)
			args := []string{"--version", tc.version, "--strategy", tc.strategy}
			if tc.strategy == "definition" {
				args = append(args, "--definition-id", h.srv.AddDefinition(h.slug, "deploy").ID)
			}
			hs := h.options(t, args...)
			res, err := rollback.Do(context.Background(), hs.opts)
			if tc.refuse != "" {
				if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), tc.refuse) || !strings.Contains(err.Error(), "PMGUARD_ROLLBACK_VERSION") {
					t.Fatalf("err %v (exit %d), want exit 2 naming the version setting and %q\n%s", err, exitcode.Of(err), tc.refuse, hs.out)
				}
				if h.srv.Writes() != 0 {
					t.Fatalf("%d writes, want none", h.srv.Writes())
				}
				return
			}
			if err != nil || res.Target.Version != tc.want {
				t.Fatalf("err %v, target %+v; want %s\n%s", err, res.Target, tc.want, hs.out)
			}
			if tc.strategy != "rerun" {
				rbs := h.rollbacksOf(h.failed)
				if len(rbs) != 1 || rbs[0].Params[rollback.ParamTargetVersion] != tc.want {
					t.Fatalf("%d rollbacks %v, want one to %s", len(rbs), rbs, tc.want)
				}
			}
			if warned := strings.Contains(hs.out.String(), "Warning: version "+tc.version); warned != tc.warns {
				t.Fatalf("warned %v, want %v\n%s", warned, tc.warns, hs.out)
			}
			if !strings.Contains(hs.out.String(), "version "+tc.version+" was given") {
				t.Fatalf("output does not say pipeline:N was given\n%s", hs.out)
			}
		})
	}
	t.Run("a pipeline the project lacks", func(t *testing.T) {
		h := build(t, steps, false)
		h.srv.Inject(inmemory.Fault{Method: "GET", Path: "/project/gh/acme/api/pipeline/4", Status: 404, Message: "Pipeline not found"})
		hs := h.options(t, "--version", "pipeline:4", "--strategy", "trigger")
		_, err := rollback.Do(context.Background(), hs.opts)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), "has no pipeline 4") {
			t.Fatalf("err %v (exit %d), want exit 2 saying the project has no pipeline 4", err, exitcode.Of(err))
		}
	})
	t.Run("deploy markers: the marker of that pipeline", func(t *testing.T) {
		h := build(t, []step{{rev: 'a', deploy: "success", marker: "v1"}, {rev: 'b', deploy: "failed", marker: "v2"}, {rev: 'c', deploy: "success", marker: "v3"}, {rev: 'd', deploy: "failed", marker: "v4"}}, true)
		for _, tc := range []struct{ version, want, refuse string }{{"pipeline:3", "v3", ""}, {"pipeline:2", "", "ended failed"}} {
			hs := h.options(t, "--version", tc.version, "--strategy", "rollback_pipeline")
			res, err := rollback.Do(context.Background(), hs.opts)
			if tc.refuse != "" {
				if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), tc.refuse) {
					t.Fatalf("%s: err %v (exit %d), want exit 2 saying %q\n%s", tc.version, err, exitcode.Of(err), tc.refuse, hs.out)
				}
				continue
			}
			if err != nil || res.Target.Version != tc.want {
				t.Fatalf("%s: err %v, result %+v; want marker %s\n%s", tc.version, err, res, tc.want, hs.out)
			}
		}
	})
	t.Run("a tag deploy's pipeline is its tag", func(t *testing.T) {
		h := build(t, []step{{rev: 'a', tag: "v1.0", deploy: "success"}, {rev: 'c', tag: "v1.1", deploy: "failed"}}, false)
		hs := h.options(t, "--version", "pipeline:1", "--strategy", "trigger")
		res, err := rollback.Do(context.Background(), hs.opts)
		if err != nil || res.Target.Version != "v1.0" {
			t.Fatalf("err %v, target %+v; want v1.0\n%s", err, res.Target, hs.out)
		}
	})
}
