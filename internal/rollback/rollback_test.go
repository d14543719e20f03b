package rollback_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	"github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/deploymarker/markertest"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/migrations"
	"github.com/pmguard/pmguard/internal/rollback"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

const token = "cci-secret-token-1234567890"

// history is a project whose newest pipeline's deploy failed; goodBack
// pipelines before it, the deploy last succeeded (every pipeline in
// between failed its deploy).
type history struct {
	srv    *circlecitest.Server
	slug   string
	failed *inmemory.Pipeline
	good   *inmemory.Pipeline
	all    []*inmemory.Pipeline
}

func newHistory(t *testing.T, slug string, total, goodBack int, o inmemory.Options) *history {
	t.Helper()
	o.Token = token
	srv := circlecitest.New(t, o)
	srv.AddProject(slug)
	h := &history{srv: srv, slug: slug}
	base := srv.Now().Add(-time.Duration(total+1) * time.Hour)
	for i := 0; i < total; i++ {
		deploy := "failed"
		if i <= total-1-goodBack {
			deploy = "success"
		}
		if i == total-1 {
			deploy = "failed"
		}
		p := srv.AddPipeline(slug, inmemory.PipelineSeed{
			Branch: "main", Revision: fmt.Sprintf("%040x", 0xabc000+i), CreatedAt: base.Add(time.Duration(i) * time.Hour),
			Workflows: []inmemory.WorkflowSeed{{Name: "build", Status: "success"}, {Name: "deploy", Status: deploy}},
		})
		h.all = append(h.all, p)
		if deploy == "success" {
			h.good = p
		}
	}
	h.failed = h.all[len(h.all)-1]
	return h
}

func (h *history) deployWorkflow(p *inmemory.Pipeline) string {
	return h.workflowNamed(p, "deploy")
}

// workflowNamed is the id of p's workflow called name ("" for none).
func (h *history) workflowNamed(p *inmemory.Pipeline, name string) string {
	for _, w := range p.Workflows {
		if w.Name == name {
			return w.ID
		}
	}
	return ""
}

type harness struct {
	opts   *rollback.Options
	out    *bytes.Buffer
	events string
}

// env is the job environment of the failed pipeline's deploy job, rolling
// back with the default settings against the stand-in.
func (h *history) env(t *testing.T) map[string]string {
	return map[string]string{
		"CIRCLE_TOKEN":                     token,
		"PMGUARD_CIRCLECI_HOST":            h.srv.URL(),
		"PMGUARD_EVENTS_FILE":              filepath.Join(t.TempDir(), "events.jsonl"),
		"PMGUARD_ROLLBACK_DEPLOY_WORKFLOW": "deploy",
		"PMGUARD_ROLLBACK_PROJECT_SLUG":    h.slug,
		"PMGUARD_ROLLBACK_PIPELINE_ID":     h.failed.ID,
		"PMGUARD_ROLLBACK_WORKFLOW_ID":     h.deployWorkflow(h.failed),
		"PMGUARD_ROLLBACK_SCHEMA_CHECK":    "off", // the schema tests turn it on
	}
}

// options builds the rollback through New with args, on the stand-in's
// clock, then swaps in a client with millisecond retry waits.
func (h *history) options(t *testing.T, args ...string) harness {
	t.Helper()
	return h.optionsEnv(t, nil, args...)
}

// optionsEnv is options with extra job environment (CIRCLE_BUILD_NUM ...).
func (h *history) optionsEnv(t *testing.T, extra map[string]string, args ...string) harness {
	t.Helper()
	env := h.env(t)
	for k, v := range extra {
		env[k] = v
	}
	out := &bytes.Buffer{}
	d := verbtest.Deps(env, out, nil)
	d.Now, d.Sleep = h.srv.Clock().Now, h.srv.Clock().Sleep
	o, err := rollback.New(context.Background(), d, args)
	if err != nil {
		t.Fatalf("New(%q): %v", args, err)
	}
	o.Client = h.srv.Client(t)
	o.CLIPath = t.TempDir() // no circleci CLI unless a test installs one
	return harness{opts: o, out: out, events: env["PMGUARD_EVENTS_FILE"]}
}

func readEvents(t *testing.T, path string) []events.Event {
	t.Helper()
	evs, _, err := events.ReadFiles(path)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func names(evs []events.Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Event)
	}
	return out
}

// rollbacksOf lists the pipelines started as rollbacks of a pipeline.
func (h *history) rollbacksOf(p *inmemory.Pipeline) []*inmemory.Pipeline {
	var out []*inmemory.Pipeline
	for _, x := range h.srv.Pipelines(h.slug) {
		if x.Params[rollback.ParamRollbackOf] == p.ID {
			out = append(out, x)
		}
	}
	return out
}

func TestStrategies(t *testing.T) {
	tests := []struct {
		name     string
		slug     string
		strategy string
		setup    func(h *history) []string // extra args
		want     string
		check    func(t *testing.T, h *history, res *rollback.Result)
	}{
		{name: "trigger", slug: "gh/acme/api", strategy: "trigger", want: "trigger"},
		{name: "auto picks trigger for a GitHub OAuth project", slug: "gh/acme/api", strategy: "auto", want: "trigger"},
		{name: "definition", slug: "gh/acme/api", strategy: "definition", want: "definition",
			setup: func(h *history) []string {
				return []string{"--definition-id", h.srv.AddDefinition(h.slug, "deploy").ID}
			}},
		{name: "auto picks the only definition of a GitHub App project", slug: "circleci/0f4e5c8a/9a1b2c3d", strategy: "auto", want: "definition",
			setup: func(h *history) []string { h.srv.AddDefinition(h.slug, "deploy"); return nil }},
		{name: "auto falls back to rerun", slug: "circleci/0f4e5c8a/9a1b2c3d", strategy: "auto", want: "rerun"},
		{name: "auto: a 404 listing pipeline definitions makes definition not applicable", slug: "circleci/0f4e5c8a/9a1b2c3d", strategy: "auto", want: "rerun",
			setup: func(h *history) []string {
				h.srv.AddDefinition(h.slug, "deploy")
				h.srv.Inject(inmemory.Fault{Method: "GET", Path: "/projects/", Status: 404, Message: "Not found", Times: 10})
				return nil
			},
			check: func(t *testing.T, h *history, res *rollback.Result) {
				if !strings.Contains(res.Why, "lists no pipeline definitions") {
					t.Errorf("why %q does not say the definitions were not found", res.Why)
				}
			}},
		{name: "auto: a 404 on deploy settings makes rollback_pipeline not applicable", slug: "gh/acme/api", strategy: "auto", want: "trigger",
			setup: func(h *history) []string {
				withMarkers(h)
				h.srv.Inject(inmemory.Fault{Method: "GET", Path: "/deploy/projects/", Status: 404, Message: "Not found", Times: 10})
				return nil
			},
			check: func(t *testing.T, h *history, res *rollback.Result) {
				if !strings.Contains(res.Why, "no deploy settings for the project") {
					t.Errorf("why %q does not say the deploy settings were not found", res.Why)
				}
			}},
		{name: "rerun", slug: "gh/acme/api", strategy: "rerun", want: "rerun",
			check: func(t *testing.T, h *history, res *rollback.Result) {
				w := h.srv.Workflow(res.Rollback.WorkflowID)
				if w == nil || w.Pipeline.ID != h.good.ID || w.RerunOf != h.deployWorkflow(h.good) {
					t.Fatalf("rerun workflow %+v, want a rerun of pipeline %d's deploy", w, h.good.Number)
				}
			}},
		{name: "rollback_pipeline", slug: "gh/acme/api", strategy: "rollback_pipeline", want: "rollback_pipeline", setup: withMarkers},
		{name: "auto picks the rollback pipeline", slug: "gh/acme/api", strategy: "auto", want: "rollback_pipeline", setup: withMarkers,
			check: func(t *testing.T, h *history, res *rollback.Result) {
				if res.Target.Version != "v3" || res.Target.CurrentVersion != "v4" {
					t.Fatalf("markers target %+v, want v4 -> v3", res.Target)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistory(t, tt.slug, 6, 2, inmemory.Options{})
			args := []string{"--strategy", tt.strategy, "--parameters", `{"environment":"production"}`}
			if tt.setup != nil {
				args = append(args, tt.setup(h)...)
			}
			hs := h.options(t, args...)
			res, err := rollback.Do(context.Background(), hs.opts)
			if err != nil {
				t.Fatalf("Run: %v\n%s", err, hs.out)
			}
			if res.Strategy != tt.want || res.Outcome != rollback.OutcomeInitiated {
				t.Fatalf("strategy %s outcome %s, want %s initiated\n%s", res.Strategy, res.Outcome, tt.want, hs.out)
			}
			if tt.want != "rerun" {
				rbs := h.rollbacksOf(h.failed)
				if len(rbs) != 1 {
					t.Fatalf("%d rollback pipelines, want 1", len(rbs))
				}
				p := rbs[0]
				if p.Params[rollback.ParamRollback] != true || p.Params["environment"] != "production" {
					t.Errorf("rollback parameters %v", p.Params)
				}
				if tt.want != "rollback_pipeline" && p.Params[rollback.ParamTargetVersion] != h.good.Revision {
					t.Errorf("target version %v, want %s", p.Params[rollback.ParamTargetVersion], h.good.Revision)
				}
			}
			if tt.want != "rollback_pipeline" && res.Target.PipelineNumber != h.good.Number {
				t.Errorf("target pipeline %d, want %d", res.Target.PipelineNumber, h.good.Number)
			}
			if !strings.Contains(hs.out.String(), "why:") || !strings.Contains(hs.out.String(), "Rollback started") {
				t.Errorf("output does not say what it chose and why:\n%s", hs.out)
			}
			if tt.check != nil {
				tt.check(t, h, res)
			}
			evs := readEvents(t, hs.events)
			if got := names(evs); len(got) != 1 || got[0] != "rollback_initiated" {
				t.Fatalf("events %v", got)
			}
			if evs[0].Figures["strategy"] != tt.want {
				t.Errorf("event figures %v", evs[0].Figures)
			}
		})
	}
}

func withMarkers(h *history) []string {
	def := h.srv.AddDefinition(h.slug, "rollback")
	h.srv.SetRollbackDefinition(h.slug, def.ID)
	env := h.srv.AddEnvironment(h.slug, "production")
	comp := h.srv.AddComponent(h.slug, "api")
	for i, p := range h.all[len(h.all)-4:] {
		h.srv.AddVersion(comp, env, fmt.Sprintf("v%d", i+1), p)
	}
	return nil
}

func TestTargetAcrossPages(t *testing.T) {
	for _, seq := range []bool{false, true} {
		t.Run(fmt.Sprintf("sequential=%v", seq), func(t *testing.T) {
			// 20 pipelines a page; the good deploy is on page 3.
			h := newHistory(t, "gh/acme/api", 70, 50, inmemory.Options{})
			hs := h.options(t)
			hs.opts.Sequential = seq
			res, err := rollback.Do(context.Background(), hs.opts)
			if err != nil {
				t.Fatalf("%v\n%s", err, hs.out)
			}
			if res.Target.PipelineNumber != h.good.Number || res.Target.PagesSearched != 3 {
				t.Fatalf("target pipeline %d on page %d, want %d on page 3", res.Target.PipelineNumber, res.Target.PagesSearched, h.good.Number)
			}
		})
	}
}

func TestNoPreviousSuccess(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 5, 10, inmemory.Options{})
	hs := h.options(t)
	_, err := rollback.Do(context.Background(), hs.opts)
	if exitcode.Of(err) != exitcode.Fail || !strings.Contains(err.Error(), `no previous successful run of workflow "deploy" on branch main`) {
		t.Fatalf("err = %v (exit %d), want exit 1 naming the workflow and branch", err, exitcode.Of(err))
	}
	if h.srv.Writes() != 0 {
		t.Fatalf("%d writes, want none", h.srv.Writes())
	}
	// The log says the rollback never started, for notify and postmortem.
	evs := events.Filter(readEvents(t, hs.events), "rollback_failed")
	if len(evs) != 1 || evs[0].Figures["reason"] != "not_started" || !strings.Contains(evs[0].Message, "no previous successful run") {
		t.Fatalf("rollback_failed events = %+v", evs)
	}
}

func TestAPIFaults(t *testing.T) {
	tests := []struct {
		name     string
		fault    inmemory.Fault
		badToken bool
		wantExit int
		wantText string
	}{
		{name: "429 with Retry-After then success", fault: inmemory.Fault{Method: "GET", Path: "/project/gh/acme/api/pipeline", Status: 429, RetryAfter: "2", Times: 2}},
		{name: "5xx then success", fault: inmemory.Fault{Path: "/pipeline/", Status: 503, Times: 2}},
		{name: "5xx on the trigger then success", fault: inmemory.Fault{Method: "POST", Status: 500, Times: 1}},
		{name: "401", badToken: true, wantExit: 3, wantText: "invalid token (env CIRCLE_TOKEN)"},
		{name: "404 on write", fault: inmemory.Fault{Method: "POST", Status: 404, Message: "Project not found", Times: 5}, wantExit: 3,
			wantText: "the token may lack write scope or the project is not followed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistory(t, "gh/acme/api", 6, 2, inmemory.Options{})
			hs := h.options(t)
			if tt.fault.Status != 0 {
				h.srv.Inject(tt.fault)
			}
			if tt.badToken {
				c, _ := circleci.New(circleci.Options{Host: h.srv.URL(), Token: "wrong-" + token, HTTP: circlecitest.FastHTTP()})
				hs.opts.Client = c
			}
			res, err := rollback.Do(context.Background(), hs.opts)
			if got := exitcode.Of(err); got != tt.wantExit {
				t.Fatalf("exit %d (%v), want %d", got, err, tt.wantExit)
			}
			if tt.wantExit != 0 {
				if !strings.Contains(err.Error(), tt.wantText) {
					t.Fatalf("%q does not say %q", err, tt.wantText)
				}
				if strings.Contains(err.Error(), token) {
					t.Fatal("error shows the token")
				}
				return
			}
			// A retried trigger may have created a pipeline the 500 hid;
			// either way exactly one rollback must survive.
			if res.Outcome != rollback.OutcomeInitiated || len(live(h, h.rollbacksOf(h.failed))) != 1 {
				t.Fatalf("outcome %s, %d live rollbacks", res.Outcome, len(live(h, h.rollbacksOf(h.failed))))
			}
		})
	}
}

// live are the rollbacks whose workflows were not cancelled.
func live(h *history, ps []*inmemory.Pipeline) []*inmemory.Pipeline {
	var out []*inmemory.Pipeline
	for _, p := range ps {
		for _, w := range p.Workflows {
			if h.srv.WorkflowStatus(w.ID) != "canceled" {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func TestConcurrentCallersStartOneRollback(t *testing.T) {
	for _, strategy := range []string{"trigger", "rerun"} {
		t.Run(strategy, func(t *testing.T) {
			// Latency on every request lines the callers up: they all pass
			// the "already started?" check before any of them triggers, so
			// the settle-after-trigger path runs with n rivals.
			h := newHistory(t, "gh/acme/api", 8, 3, inmemory.Options{Latency: 20 * time.Millisecond})
			const n = 8
			var wg sync.WaitGroup
			results := make([]*rollback.Result, n)
			errs := make([]error, n)
			hs := make([]harness, n)
			for i := range hs {
				hs[i] = h.options(t, "--strategy", strategy)
			}
			start := make(chan struct{})
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					results[i], errs[i] = rollback.Do(context.Background(), hs[i].opts)
				}(i)
			}
			close(start)
			wg.Wait()
			initiated, dup := 0, 0
			for i := range results {
				if errs[i] != nil {
					t.Fatalf("caller %d: %v\n%s", i, errs[i], hs[i].out)
				}
				switch results[i].Outcome {
				case rollback.OutcomeInitiated:
					initiated++
				case rollback.OutcomeDuplicate:
					dup++
				}
			}
			if initiated != 1 || dup != n-1 {
				for i := range results {
					t.Logf("caller %d: %s %s\n%s", i, results[i].Outcome, results[i].Action, hs[i].out)
				}
				t.Fatalf("%d initiated, %d duplicates; want 1 and %d", initiated, dup, n-1)
			}
			var running int
			if strategy == "rerun" {
				for _, w := range h.srv.Pipelines(h.slug) {
					if w.ID != h.good.ID {
						continue
					}
					for _, wf := range w.Workflows {
						if wf.RerunOf != "" && h.srv.WorkflowStatus(wf.ID) != "canceled" {
							running++
						}
					}
				}
			} else {
				running = len(live(h, h.rollbacksOf(h.failed)))
			}
			if running != 1 {
				t.Fatalf("%d rollbacks still running, want exactly 1", running)
			}
			t.Logf("%d callers: %d writes (triggers and cancels)", n, h.srv.Writes())
			// Every caller names the same survivor.
			for i := range results {
				if results[i].Rollback.PipelineID != results[0].Rollback.PipelineID || results[i].Rollback.WorkflowID != results[0].Rollback.WorkflowID {
					t.Fatalf("caller %d names %+v, caller 0 %+v", i, results[i].Rollback, results[0].Rollback)
				}
			}
		})
	}
}

func TestLoopGuard(t *testing.T) {
	t.Run("pipeline started by a rollback", func(t *testing.T) {
		h := newHistory(t, "gh/acme/api", 4, 1, inmemory.Options{})
		rb := h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", TriggerType: "api",
			Params:    map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.failed.ID, rollback.ParamTargetVersion: "abc1234"},
			Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "failed"}}})
		hs := h.options(t, "--pipeline-id", rb.ID, "--workflow-id", rb.Workflows[0].ID)
		res, err := rollback.Do(context.Background(), hs.opts)
		if err != nil || res.Outcome != rollback.OutcomeLoopGuard || h.srv.Writes() != 0 {
			t.Fatalf("outcome %v err %v writes %d", res, err, h.srv.Writes())
		}
		if got := names(readEvents(t, hs.events)); len(got) != 1 || got[0] != "rollback_skipped" {
			t.Fatalf("events %v", got)
		}
	})
	t.Run("rollback_of passed by the config", func(t *testing.T) {
		h := newHistory(t, "gh/acme/api", 4, 1, inmemory.Options{})
		hs := h.options(t, "--rollback-of", h.all[0].ID)
		res, err := rollback.Do(context.Background(), hs.opts)
		if err != nil || res.Outcome != rollback.OutcomeLoopGuard || h.srv.Calls() != 0 {
			t.Fatalf("outcome %v err %v calls %d", res, err, h.srv.Calls())
		}
	})
	t.Run("rerun of an older pipeline's deploy", func(t *testing.T) {
		h := newHistory(t, "gh/acme/api", 4, 2, inmemory.Options{})
		h.srv.Clock().Advance(time.Minute)
		// What the rerun strategy started: a rerun in the good pipeline,
		// created after the failed pipeline; it failed too.
		c := h.srv.Client(t)
		id, err := c.Workflows.Rerun(context.Background(), h.deployWorkflow(h.good), circleci.RerunRequest{})
		if err != nil {
			t.Fatal(err)
		}
		h.srv.SetWorkflowStatus(id, "failed")
		before := h.srv.Writes()
		hs := h.options(t, "--pipeline-id", h.good.ID, "--workflow-id", id)
		res, err := rollback.Do(context.Background(), hs.opts)
		if err != nil || res.Outcome != rollback.OutcomeLoopGuard || h.srv.Writes() != before {
			t.Fatalf("outcome %+v err %v writes %d\n%s", res, err, h.srv.Writes()-before, hs.out)
		}
	})
	t.Run("rerun of the failed pipeline's deploy after its own rollback failed", func(t *testing.T) {
		h := newHistory(t, "gh/acme/api", 4, 2, inmemory.Options{})
		h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", TriggerType: "api",
			Params:    map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.failed.ID, rollback.ParamTargetVersion: h.good.Revision},
			Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "failed"}}})
		h.srv.Clock().Advance(time.Minute)
		// The failed deploy is tried again, and fails again: a second
		// attempt at rolling it back, not a rerun rollback.
		id, err := h.srv.Client(t).Workflows.Rerun(context.Background(), h.deployWorkflow(h.failed), circleci.RerunRequest{})
		if err != nil {
			t.Fatal(err)
		}
		h.srv.SetWorkflowStatus(id, "failed")
		hs := h.options(t, "--workflow-id", id, "--strategy", "trigger")
		res, err := rollback.Do(context.Background(), hs.opts)
		if err != nil || res.Outcome != rollback.OutcomeInitiated || res.Attempt != 2 || len(h.rollbacksOf(h.failed)) != 2 {
			t.Fatalf("outcome %+v err %v, %d rollbacks; want attempt 2 started\n%s", res, err, len(h.rollbacksOf(h.failed)), hs.out)
		}
	})
}

func TestFollow(t *testing.T) {
	tests := []struct {
		name     string
		timeline []inmemory.Step
		timeout  time.Duration
		wantExit int
		outcome  string
		event    string
	}{
		{"success", inmemory.Ends(3*time.Minute, "success"), 0, 0, rollback.OutcomeCompleted, "rollback_completed"},
		{"failure", inmemory.Ends(2*time.Minute, "failed"), 0, 1, rollback.OutcomeFailed, "rollback_failed"},
		{"timeout", inmemory.Ends(time.Hour, "success"), 10 * time.Minute, 1, rollback.OutcomeTimeout, "rollback_failed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHistory(t, "gh/acme/api", 5, 2, inmemory.Options{OnTrigger: func(*inmemory.Pipeline) []inmemory.WorkflowSeed {
				return []inmemory.WorkflowSeed{{Name: "deploy", Timeline: tt.timeline}}
			}})
			args := []string{"--wait"}
			if tt.timeout > 0 {
				args = append(args, "--wait-timeout", tt.timeout.String())
			}
			hs := h.options(t, args...)
			start := h.srv.Now()
			res, err := rollback.Do(context.Background(), hs.opts)
			if got := exitcode.Of(err); got != tt.wantExit || res == nil || res.Outcome != tt.outcome {
				t.Fatalf("exit %d outcome %+v err %v, want exit %d %s\n%s", got, res, err, tt.wantExit, tt.outcome, hs.out)
			}
			got := names(readEvents(t, hs.events))
			if len(got) != 2 || got[0] != "rollback_initiated" || got[1] != tt.event {
				t.Fatalf("events %v", got)
			}
			var f events.Rollback
			last := readEvents(t, hs.events)[1]
			last.Decode(&f)
			switch tt.outcome {
			case rollback.OutcomeCompleted:
				// The stand-in's rollback runs 3 minutes; the failed
				// pipeline started an hour before it (newHistory).
				if f.RollbackSeconds != 180 || f.RestoreSeconds < 3600 || f.Joined {
					t.Fatalf("figures %+v, want a 180 s rollback and the time to restore from the failed pipeline", f)
				}
			case rollback.OutcomeFailed:
				if f.RollbackSeconds != 120 || f.RestoreSeconds != 0 {
					t.Fatalf("figures %+v, want a 120 s rollback and no time to restore", f)
				}
			}
			waited := h.srv.Now().Sub(start)
			if tt.timeout > 0 && waited > tt.timeout+time.Second {
				t.Fatalf("waited %s on the fake clock, past wait_timeout %s", waited, tt.timeout)
			}
			if !strings.Contains(hs.out.String(), "https://") && !strings.Contains(hs.out.String(), "/pipelines/gh/acme/api/") {
				t.Fatalf("no link in the output:\n%s", hs.out)
			}
		})
	}
}

func TestDryRunSendsNoWrite(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 6, 2, inmemory.Options{})
	hs := h.options(t, "--dry-run")
	var printed []string
	c, _ := circleci.New(circleci.Options{Host: h.srv.URL(), Token: token, HTTP: circlecitest.FastHTTP(),
		DryRun: func(r circleci.Request) { printed = append(printed, r.String()) }})
	hs.opts.Client = c
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil || res.Outcome != rollback.OutcomeDryRun {
		t.Fatalf("outcome %+v err %v", res, err)
	}
	if h.srv.Writes() != 0 {
		t.Fatalf("%d writes in a dry run", h.srv.Writes())
	}
	if len(printed) != 1 || !strings.HasPrefix(printed[0], "POST /project/gh/acme/api/pipeline ") || !strings.Contains(printed[0], h.good.Revision) {
		t.Fatalf("printed %q", printed)
	}
	if got := names(readEvents(t, hs.events)); len(got) != 1 || got[0] != "rollback_skipped" {
		t.Fatalf("events %v", got)
	}
}

// Release markers go through deploymarker to the circleci CLI stand-in,
// which accepts only the documented rollback form; no argv holds the token.
func TestReleaseMarkers(t *testing.T) {
	for _, tt := range []struct {
		outcome string
		want    []string
	}{
		{"success", []string{
			"run release plan deploy-rollback --target-version=v3 --environment-name=production --component-name=api --namespace=default --rollback",
			"run release update deploy-rollback --status=RUNNING",
			"run release update deploy-rollback --status=SUCCESS",
		}},
		{"failed", []string{
			"run release plan deploy-rollback --target-version=v3 --environment-name=production --component-name=api --namespace=default --rollback",
			"run release update deploy-rollback --status=RUNNING",
			"run release update deploy-rollback --status=FAILED --failure-reason=rollback pipeline ",
		}},
	} {
		t.Run(tt.outcome, func(t *testing.T) {
			h := newHistory(t, "gh/acme/api", 6, 2, inmemory.Options{OnTrigger: func(*inmemory.Pipeline) []inmemory.WorkflowSeed {
				return []inmemory.WorkflowSeed{{Name: "deploy", Timeline: inmemory.Ends(time.Minute, tt.outcome)}}
			}})
			withMarkers(h)
			hs := h.optionsEnv(t, map[string]string{"CIRCLE_JOB": "deploy"}, "--release-markers", "--wait")
			cli := markertest.Install(t, "CIRCLE_JOB")
			hs.opts.CLIPath = cli.Dir
			_, err := rollback.Do(context.Background(), hs.opts)
			if (err != nil) != (tt.outcome == "failed") {
				t.Fatalf("%v\n%s", err, hs.out)
			}
			calls := cli.Calls(t)
			if len(calls) != len(tt.want) {
				t.Fatalf("CLI calls %q, want %q\n%s", calls, tt.want, hs.out)
			}
			for i, c := range calls {
				got := strings.Join(c, " ")
				if !strings.HasPrefix(got, tt.want[i]) {
					t.Errorf("call %d: %s\nwant %s", i, got, tt.want[i])
				}
				if strings.Contains(got, token) {
					t.Errorf("call %d has the token in argv", i)
				}
			}
			// The CLI runs with the run's environment, not the process's.
			envs := cli.Env(t)
			if len(envs) != len(calls) {
				t.Fatalf("%d environments recorded for %d CLI calls", len(envs), len(calls))
			}
			for i, e := range envs {
				if got := strings.Join(e, " "); got != "CIRCLE_JOB=deploy" {
					t.Errorf("call %d ran with %q, want the run's CIRCLE_JOB=deploy", i, got)
				}
			}
			if out := hs.out.String(); strings.Contains(out, "note:") || !strings.Contains(out, "deploy marker: planned rollback deploy-rollback of api in production to v3") {
				t.Errorf("output:\n%s", out)
			}
		})
	}

	// Without the CLI: a note, and the rollback still starts.
	h2 := newHistory(t, "gh/acme/api", 6, 2, inmemory.Options{})
	hs2 := h2.options(t, "--release-markers", "--component", "api", "--environment", "production")
	res, err := rollback.Do(context.Background(), hs2.opts)
	if err != nil || res.Outcome != rollback.OutcomeInitiated || !strings.Contains(hs2.out.String(), "circleci CLI is not in PATH") {
		t.Fatalf("outcome %+v err %v\n%s", res, err, hs2.out)
	}

	// With the CLI but no environment to name: a note, no call.
	h3 := newHistory(t, "gh/acme/api", 6, 2, inmemory.Options{})
	hs3 := h3.options(t, "--release-markers", "--component", "api")
	cli := markertest.Install(t)
	hs3.opts.CLIPath = cli.Dir
	res, err = rollback.Do(context.Background(), hs3.opts)
	if err != nil || res.Outcome != rollback.OutcomeInitiated || !strings.Contains(hs3.out.String(), "needs component and environment") || len(cli.Calls(t)) != 0 {
		t.Fatalf("outcome %+v err %v calls %q\n%s", res, err, cli.Calls(t), hs3.out)
	}
}

func TestTokenNeverShown(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 6, 2, inmemory.Options{OnTrigger: func(*inmemory.Pipeline) []inmemory.WorkflowSeed {
		return []inmemory.WorkflowSeed{{Name: "deploy", Timeline: inmemory.Ends(time.Minute, "failed")}}
	}})
	hs := h.options(t, "--wait")
	h.srv.Inject(inmemory.Fault{Status: 502, Times: 1})
	_, err := rollback.Do(context.Background(), hs.opts)
	data, _ := os.ReadFile(hs.events)
	for what, s := range map[string]string{"output": hs.out.String(), "events": string(data), "error": fmt.Sprint(err)} {
		if strings.Contains(s, token) {
			t.Fatalf("%s shows the token", what)
		}
	}
}

// Bad input is found by New, before any request, and names the setting.
func TestNewRejectsBadInput(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 3, 1, inmemory.Options{})
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"strategy", nil, []string{"--strategy", "revert"}, []string{"PMGUARD_ROLLBACK_STRATEGY", "unknown strategy"}},
		{"version", nil, []string{"--version", "v 1"}, []string{"PMGUARD_ROLLBACK_VERSION", "accepted: previous"}},
		{"a pipeline version without a number", nil, []string{"--version", "pipeline:latest"}, []string{"PMGUARD_ROLLBACK_VERSION", "names no pipeline number", "pipeline:<number>"}},
		{"a parameter version without a value", nil, []string{"--version", "x="},
			[]string{"invalid version", "flag --version", "env PMGUARD_ROLLBACK_VERSION", "names no value for pipeline parameter x"}},
		{"a parameter version of white space", map[string]string{"PMGUARD_ROLLBACK_VERSION": "release= "}, nil,
			[]string{"env PMGUARD_ROLLBACK_VERSION", "names no value for pipeline parameter release"}},
		{"a deploy workflow glob path.Match rejects", nil, []string{"--deploy-workflow", "["},
			[]string{"invalid deploy_workflow", "flag --deploy-workflow", "env PMGUARD_ROLLBACK_DEPLOY_WORKFLOW", "not a valid glob"}},
		{"a deploy workflow glob with a trailing backslash", map[string]string{"PMGUARD_ROLLBACK_DEPLOY_WORKFLOW": `deploy-\`}, nil,
			[]string{"env PMGUARD_ROLLBACK_DEPLOY_WORKFLOW", "not a valid glob"}},
		{"a definition id that is not a UUID", nil, []string{"--strategy", "definition", "--definition-id", "notauuid"},
			[]string{"invalid definition_id", "flag --definition-id", "env PMGUARD_ROLLBACK_DEFINITION_ID", "not a UUID"}},
		{"a definition id that is not a UUID, strategy auto", nil, []string{"--definition-id", "2338d0ae-5541-4bbf-88a2"},
			[]string{"env PMGUARD_ROLLBACK_DEFINITION_ID", "not a UUID"}},
		{"a migrations glob", nil, []string{"--migrations", "["},
			[]string{"invalid migrations", "flag --migrations", "env PMGUARD_ROLLBACK_MIGRATIONS", "not a valid glob"}},
		{"a migrations glob among good ones", map[string]string{"PMGUARD_ROLLBACK_MIGRATIONS": "db/migrations/**/*.sql,db/[migrate/*.rb"}, nil,
			[]string{"env PMGUARD_ROLLBACK_MIGRATIONS", `"db/[migrate/*.rb"`, "not a valid glob"}},
		{"definition without id", nil, []string{"--strategy", "definition"}, []string{"PMGUARD_ROLLBACK_DEFINITION_ID", "needs a pipeline definition id"}},
		{"trigger on a GitHub App project", nil, []string{"--strategy", "trigger", "--project-slug", "circleci/a/b"}, []string{"PMGUARD_ROLLBACK_STRATEGY", "GitHub OAuth"}},
		{"reserved parameter", nil, []string{"--parameters", `{"pmguard_rollback":false}`}, []string{"PMGUARD_ROLLBACK_PARAMETERS", "pmguard_rollback is set by pmguard"}},
		{"parameter of another type", nil, []string{"--parameters", `{"env":["a"]}`}, []string{"PMGUARD_ROLLBACK_PARAMETERS", "strings, numbers or booleans"}},
		{"no project", map[string]string{"PMGUARD_ROLLBACK_PROJECT_SLUG": ""}, nil, []string{"PMGUARD_ROLLBACK_PROJECT_SLUG", "no project"}},
		{"a slug of two parts", nil, []string{"--project-slug", "acme/api"}, []string{"PMGUARD_ROLLBACK_PROJECT_SLUG", "three parts"}},
		{"no pipeline", map[string]string{"PMGUARD_ROLLBACK_PIPELINE_ID": "", "PMGUARD_ROLLBACK_WORKFLOW_ID": ""}, nil, []string{"flag --pipeline-id", "PMGUARD_ROLLBACK_PIPELINE_ID", "accepted: a pipeline id"}},
		{"no deploy workflow to take", map[string]string{"PMGUARD_ROLLBACK_DEPLOY_WORKFLOW": "", "PMGUARD_ROLLBACK_WORKFLOW_ID": ""}, nil, []string{"PMGUARD_ROLLBACK_DEPLOY_WORKFLOW"}},
		{"no pages", nil, []string{"--max-pages", "0"}, []string{"PMGUARD_ROLLBACK_MAX_PAGES", "out of range"}},
		{"schema check mode", nil, []string{"--schema-check", "strict"}, []string{"PMGUARD_ROLLBACK_SCHEMA_CHECK", "warn, fail or off"}},
		{"waiting no time", nil, []string{"--wait", "--wait-timeout", "0s"}, []string{"PMGUARD_ROLLBACK_WAIT_TIMEOUT"}},
		{"no token", map[string]string{"CIRCLE_TOKEN": ""}, nil, []string{"env CIRCLE_TOKEN is empty"}},
		{"a component of two lines", nil, []string{"--component", "api\n--rollback"},
			[]string{"invalid component", "flag --component", "env PMGUARD_ROLLBACK_COMPONENT", "must be one line"}},
		{"an environment with a control character", map[string]string{"PMGUARD_ROLLBACK_ENVIRONMENT": "prod\x1b[2Juction"}, nil,
			[]string{"invalid environment", "flag --environment", "env PMGUARD_ROLLBACK_ENVIRONMENT", "must be one line"}},
		{"a host without scheme", map[string]string{"PMGUARD_CIRCLECI_HOST": "circleci.example.com"}, nil, []string{"PMGUARD_CIRCLECI_HOST", "https://circleci.example.com"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := h.env(t)
			for k, v := range tt.env {
				env[k] = v
			}
			h.srv.ResetRequests()
			_, err := rollback.New(context.Background(), verbtest.Deps(env, nil, nil), tt.args)
			if exitcode.Of(err) != exitcode.BadInput {
				t.Fatalf("err %v (exit %d), want exit 2", err, exitcode.Of(err))
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
			if h.srv.Calls() != 0 {
				t.Errorf("%d requests before the input was checked", h.srv.Calls())
			}
		})
	}
	for _, v := range []string{"previous", "abc1234", "tag:v1.2.3", "v1.2.3", "release=42", "pipeline:1234"} {
		if _, err := rollback.ParseVersion(v); err != nil {
			t.Errorf("ParseVersion(%q): %v", v, err)
		}
	}
	for _, v := range []string{"x=", "=1", "tag:", "v 1", "tag:v 1", "tag:v1~2", "tag:a:b", "pipeline:", "pipeline:0", "pipeline:-3", "pipeline:12a"} {
		var ve *rollback.VersionError
		if _, err := rollback.ParseVersion(v); !errors.As(err, &ve) || !strings.Contains(err.Error(), "accepted: previous") {
			t.Errorf("ParseVersion(%q): %v, want a version error", v, err)
		}
	}
	// A name or glob that is good is taken, and so is a definition id.
	for _, args := range [][]string{{"--deploy-workflow", "deploy-[a-z]*"}, {"--strategy", "definition", "--definition-id", "2338D0AE-5541-4bbf-88a2-55e9f7281f80"},
		{"--migrations", "db/migrations/**/*.sql,db/migrate/*.rb"}, {"--version", "release=42"}} {
		if _, err := rollback.New(context.Background(), verbtest.Deps(h.env(t), nil, nil), args); err != nil {
			t.Errorf("New(%q): %v", args, err)
		}
	}
}

func TestExplicitVersions(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 6, 2, inmemory.Options{})
	// A tagged pipeline with a release parameter, on main.
	tagged := h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Tag: "v1.0.0", Revision: h.all[1].Revision, CreatedAt: h.all[1].CreatedAt.Add(time.Minute),
		Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "success"}}})
	_ = tagged
	tests := []struct {
		version, strategy, wantVersion string
	}{
		{h.all[0].Revision, "trigger", h.all[0].Revision},
		{"tag:v1.0.0", "trigger", "v1.0.0"},
	}
	for _, tt := range tests {
		hs := h.options(t, "--version", tt.version, "--strategy", tt.strategy)
		res, err := rollback.Do(context.Background(), hs.opts)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tt.version, err, hs.out)
		}
		if res.Target.Version != tt.wantVersion {
			t.Fatalf("%s: target %+v", tt.version, res.Target)
		}
		// Tidy up so the next version is not a duplicate.
		for _, p := range h.rollbacksOf(h.failed) {
			delete(p.Params, rollback.ParamRollbackOf)
		}
	}
}

// A rival that triggers between this caller's check and its trigger wins:
// this caller must cancel its own rollback and report the rival's.
func TestLateRivalWins(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 6, 2, inmemory.Options{})
	hs := h.options(t)
	var rival *circleci.PipelineCreation
	hs.opts.OnTrigger = func() {
		var err error
		rival, err = hs.opts.Client.Pipelines.Trigger(context.Background(), h.slug, circleci.TriggerRequest{Branch: "main",
			Parameters: map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.failed.ID, rollback.ParamTargetVersion: "x"}})
		if err != nil {
			t.Error(err)
		}
	}
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil || res.Outcome != rollback.OutcomeDuplicate || res.Rollback.PipelineID != rival.ID {
		t.Fatalf("outcome %+v err %v, want the rival %s", res, err, rival.ID)
	}
	lv := live(h, h.rollbacksOf(h.failed))
	if len(h.rollbacksOf(h.failed)) != 2 || len(lv) != 1 || lv[0].ID != rival.ID {
		t.Fatalf("%d rollbacks, live %v; want 2 with only the rival running", len(h.rollbacksOf(h.failed)), lv)
	}
}

func TestParameterVersion(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 3, 1, inmemory.Options{})
	rel := h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", CreatedAt: h.all[0].CreatedAt.Add(-time.Hour), Params: map[string]any{"release": "42"},
		Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "success"}}})
	_ = rel
	// The pipeline added last has the highest number; make the failed one
	// newer by pointing the run at a pipeline after it.
	failed := h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "failed"}}})
	hs := h.options(t, "--version", "release=42", "--pipeline-id", failed.ID, "--workflow-id", failed.Workflows[0].ID)
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil || res.Target.PipelineID != rel.ID || res.Target.Version != "42" {
		t.Fatalf("target %+v err %v\n%s", res.Target, err, hs.out)
	}
}

// front puts a server before the stand-in that lets intercept answer a
// request first (it returns true when it did), and points the rollback at it.
func (h *history) front(t *testing.T, hs harness, intercept func(w http.ResponseWriter, r *http.Request) bool) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !intercept(w, r) {
			h.srv.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	c, err := circleci.New(circleci.Options{Host: srv.URL, Token: token, HTTP: circlecitest.FastHTTP()})
	if err != nil {
		t.Fatal(err)
	}
	hs.opts.Client = c
}

// wait_timeout bounds the requests in flight: a status endpoint that hangs
// is cut off at the deadline, not retried, and the outcome is a timeout.
// The deadline is a real one (the request in flight runs on the wall
// clock), so it is long enough for a loaded machine to send the request
// before it passes, and short of the client's 5s per-attempt timeout.
func TestFollowTimeoutCutsAHangingRequest(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 5, 2, inmemory.Options{})
	hs := h.options(t, "--wait", "--wait-timeout", "2s")
	var hung, reads atomic.Int64
	var rollbackID atomic.Value
	h.front(t, hs, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPost {
			rec := httptest.NewRecorder()
			h.srv.ServeHTTP(rec, r)
			var pc struct{ ID string }
			_ = json.Unmarshal(rec.Body.Bytes(), &pc)
			rollbackID.Store(pc.ID)
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.WriteHeader(rec.Code)
			_, _ = w.Write(rec.Body.Bytes())
			return true
		}
		id, _ := rollbackID.Load().(string)
		if id == "" || r.URL.Path != "/api/v2/pipeline/"+id+"/workflow" {
			return false
		}
		if reads.Add(1) == 1 {
			return false // the exactly-once step's read of the new rollback
		}
		hung.Add(1)
		<-r.Context().Done() // hang until the client gives up
		return true
	})
	res, err := rollback.Do(context.Background(), hs.opts)
	if exitcode.Of(err) != exitcode.Fail || res == nil || res.Outcome != rollback.OutcomeTimeout {
		t.Fatalf("outcome %+v err %v (exit %d), want the timeout outcome, exit 1\n%s", res, err, exitcode.Of(err), hs.out)
	}
	if !strings.Contains(err.Error(), "wait_timeout 2s") || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
		t.Fatalf("%q does not say the deadline cut the request off", err)
	}
	if hung.Load() != 1 {
		t.Fatalf("%d requests to the hanging endpoint, want 1: nothing is retried past the deadline", hung.Load())
	}
	evs := readEvents(t, hs.events)
	if got := names(evs); len(got) != 2 || got[1] != events.RollbackFailed || evs[1].Figures.String("reason") != "timeout" {
		t.Fatalf("events %v, figures %v", got, evs[len(evs)-1].Figures)
	}
}

// An answer without the fields a verdict rests on stops the rollback
// (could not run) before any write.
func TestWrongShapedAnswerIsNotAVerdict(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 5, 2, inmemory.Options{})
	hs := h.options(t)
	h.front(t, hs, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/api/v2/pipeline/"+h.failed.ID {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":%q,"state":"created"}`, h.failed.ID)
		return true
	})
	_, err := rollback.Do(context.Background(), hs.opts)
	want := "unexpected response from GET /pipeline/" + h.failed.ID + " (field number missing)"
	if exitcode.Of(err) != exitcode.CouldNotRun || !strings.Contains(err.Error(), want) {
		t.Fatalf("err %v (exit %d), want exit 3 saying %q", err, exitcode.Of(err), want)
	}
	if h.srv.Writes() != 0 {
		t.Fatalf("%d writes after a wrong-shaped answer", h.srv.Writes())
	}
}

// The last good deploy was itself a rollback: it ran at the branch's head
// but deployed the version its pmguard_target_version names, and that is
// the version to go back to.
func TestTargetBehindARollback(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 4, 3, inmemory.Options{})
	old := h.all[0]
	rb := h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", TriggerType: "api", Revision: h.all[2].Revision,
		Params:    map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.all[2].ID, rollback.ParamTargetVersion: old.Revision},
		Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "success"}}})
	failed := h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "failed"}}})
	hs := h.options(t, "--strategy", "trigger", "--pipeline-id", failed.ID, "--workflow-id", failed.Workflows[0].ID)
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, hs.out)
	}
	if res.Target.PipelineID != rb.ID || res.Target.Version != old.Revision {
		t.Fatalf("target %+v, want pipeline %d's target version %s", res.Target, rb.Number, old.Revision)
	}
	for _, p := range h.srv.Pipelines(h.slug) {
		if p.Params[rollback.ParamRollbackOf] == failed.ID && p.Params[rollback.ParamTargetVersion] != old.Revision {
			t.Fatalf("the rollback deploys %v, want %s", p.Params[rollback.ParamTargetVersion], old.Revision)
		}
	}
	// The commit it names is the one deployed, not the branch head the
	// target pipeline ran at (the commit that failed in pipeline 3).
	ini := events.Filter(readEvents(t, hs.events), events.RollbackInitiated)
	if len(ini) != 1 || ini[0].Figures.String("target_revision") != old.Revision {
		t.Fatalf("rollback_initiated %+v, want target_revision %s", ini, old.Revision)
	}
	if d := res.Target.Describe(); strings.Contains(d, "commit") {
		t.Fatalf("the target is described as %q, naming the branch head %s as its commit", d, h.all[2].Revision)
	}
}

// A server that never stops paging a pipeline's workflows stops the
// rollback (could not run) after a bounded number of requests.
func TestEndlessPagesStopTheRollback(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 6, 2, inmemory.Options{})
	hs := h.options(t)
	h.front(t, hs, func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/workflow") {
			return false
		}
		first := r.Clone(r.Context()) // every page is the first one again
		first.URL.RawQuery = ""
		rec := httptest.NewRecorder()
		h.srv.ServeHTTP(rec, first)
		var page map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Error(err)
		}
		page["next_page_token"] = "again"
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
		return true
	})
	_, err := rollback.Do(context.Background(), hs.opts)
	if exitcode.Of(err) != exitcode.CouldNotRun || !strings.Contains(err.Error(), `next_page_token "again" names a page already read`) {
		t.Fatalf("err %v (exit %d), want exit 3 naming the repeated token", err, exitcode.Of(err))
	}
	if h.srv.Calls() > 30 || h.srv.Writes() != 0 {
		t.Fatalf("%d requests, %d writes: want a few reads and no write", h.srv.Calls(), h.srv.Writes())
	}
}

// The schema check's parser cache comes from cache_dir, else the user cache
// directory, as for pmguard migrations.
func TestSchemaCheckCacheDir(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 3, 1, inmemory.Options{})
	if got := h.options(t, "--schema-check", "warn", "--cache-dir", "/var/cache/pmguard-ci").opts.Schema.CacheDir; got != "/var/cache/pmguard-ci" {
		t.Errorf("cache_dir set: the schema check caches in %q", got)
	}
	h2 := newHistory(t, "gh/acme/api", 3, 1, inmemory.Options{})
	if got, want := h2.options(t, "--schema-check", "warn").opts.Schema.CacheDir, migrations.CacheDir(""); got != want {
		t.Errorf("cache_dir unset: the schema check caches in %q, want %q", got, want)
	}
}

// A component whose deploy-marker history runs to many pages is searched
// max_pages deep, as the pipelines are: the rollback starts from what those
// pages show instead of reading the whole history (and failing at the
// client's page limit).
func TestMarkerVersionsSearchedMaxPagesDeep(t *testing.T) {
	h := newHistory(t, "gh/acme/api", 6, 2, inmemory.Options{})
	withMarkers(h)
	hs := h.options(t, "--strategy", "rollback_pipeline", "--max-pages", "3")
	var pages atomic.Int64
	h.front(t, hs, func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasSuffix(r.URL.Path, "/versions") {
			return false
		}
		// The first page is the component's real versions; the others are
		// an old history that goes on for ever, a new token each page.
		n := pages.Add(1)
		rec := httptest.NewRecorder()
		first := r.Clone(r.Context())
		first.URL.RawQuery = "environment-id=" + r.URL.Query().Get("environment-id")
		h.srv.ServeHTTP(rec, first)
		var page map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
			t.Error(err)
		}
		if n > 1 {
			items := page["items"].([]any)
			old := items[len(items)-1].(map[string]any)
			old["id"], old["name"] = fmt.Sprintf("old-%d", n), fmt.Sprintf("v0.%d", n)
			page["items"] = []any{old}
		}
		page["next_page_token"] = fmt.Sprintf("page-%d", n+1)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
		return true
	})
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil || res.Target.Version != "v3" {
		t.Fatalf("err %v, result %+v; want v3\n%s", err, res, hs.out)
	}
	if got := pages.Load(); got > 3 {
		t.Fatalf("%d pages of versions read, want at most max_pages (3)", got)
	}
}
