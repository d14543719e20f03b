package rollback_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	"github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/rollback"
)

// matrixHistory is a project whose newest pipeline's deploy failed in n
// parallel jobs (a matrix), each still running its rollback step.
func matrixHistory(t *testing.T, n int, o inmemory.Options) (*history, []int64) {
	t.Helper()
	o.Token = token
	h := &history{slug: "gh/acme/api", srv: circlecitest.New(t, o)}
	h.srv.AddProject(h.slug)
	base := h.srv.Now().Add(-3 * time.Hour)
	h.good = h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", Revision: sha('a'), CreatedAt: base,
		Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "success"}}})
	var jobs []inmemory.JobSeed
	for i := 0; i < n; i++ {
		jobs = append(jobs, inmemory.JobSeed{Name: fmt.Sprintf("deploy-%d", i), Status: "running"})
	}
	h.failed = h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", Revision: sha('b'), CreatedAt: base.Add(time.Hour),
		Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "failing", Jobs: jobs}}})
	h.all = []*inmemory.Pipeline{h.good, h.failed}
	var nums []int64
	for _, j := range h.failed.Workflows[0].Jobs {
		nums = append(nums, j.Number)
	}
	return h, nums
}

// caller is one job's rollback run.
type caller struct {
	harness
	res *rollback.Result
	err error
}

// runCallers runs the callers at once (jobs numbers; 0 means outside a job).
func runCallers(t *testing.T, h *history, jobs []int64, args ...string) []*caller {
	t.Helper()
	cs := make([]*caller, len(jobs))
	for i, n := range jobs {
		env := map[string]string{}
		if n > 0 {
			env["CIRCLE_BUILD_NUM"] = fmt.Sprint(n)
		}
		cs[i] = &caller{harness: h.optionsEnv(t, env, args...)}
		// Polls 100 ms apart on the shared stand-in clock, which every
		// waiting caller moves on: a wide lag bound keeps a waiting caller
		// from giving up before the first caller's trigger however the
		// goroutines are scheduled.
		cs[i].opts.SettlePoll, cs[i].opts.ListLag = 100*time.Millisecond, 30*time.Second
	}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			c.res, c.err = rollback.Do(context.Background(), c.opts)
		}()
	}
	close(start)
	wg.Wait()
	return cs
}

// checkOneLive asserts the invariant: one rollback of the failed pipeline
// is live, every caller names it, and each caller's event says what its
// result says.
func checkOneLive(t *testing.T, h *history, cs []*caller) (started, joined, cancelled int) {
	t.Helper()
	lv := live(h, h.rollbacksOf(h.failed))
	if len(lv) != 1 {
		t.Fatalf("%d live rollbacks of %d created, want 1", len(lv), len(h.rollbacksOf(h.failed)))
	}
	for i, c := range cs {
		if c.err != nil {
			t.Fatalf("caller %d: %v\n%s", i, c.err, c.out)
		}
		if c.res.Rollback == nil || c.res.Rollback.PipelineID != lv[0].ID {
			t.Fatalf("caller %d names %+v, the live rollback is %s\n%s", i, c.res.Rollback, lv[0].ID, c.out)
		}
		evs := readEvents(t, c.events)
		if len(evs) != 1 {
			t.Fatalf("caller %d: events %v", i, names(evs))
		}
		var f events.Rollback
		evs[0].Decode(&f)
		if f.Action != c.res.Action || f.RollbackPipelineID != lv[0].ID {
			t.Fatalf("caller %d: event %s action %q pipeline %s; result %q", i, evs[0].Event, f.Action, f.RollbackPipelineID, c.res.Action)
		}
		switch c.res.Action {
		case rollback.ActionStarted:
			started++
		case rollback.ActionJoined:
			joined++
		case rollback.ActionCancelled:
			cancelled++
			if c.res.Cancelled == nil || f.CancelledPipelineID != c.res.Cancelled.PipelineID {
				t.Fatalf("caller %d cancelled %+v, event says %s", i, c.res.Cancelled, f.CancelledPipelineID)
			}
		}
	}
	if started != 1 {
		t.Fatalf("%d callers say they started the rollback, want 1", started)
	}
	return started, joined, cancelled
}

// Callers that are jobs of the failed pipeline never start a duplicate:
// each defers to the running jobs ranked before it and joins the rollback
// once the list shows it, however late.
func TestOneLiveRollbackAmongJobs(t *testing.T) {
	for _, n := range []int{5, 10} {
		for _, lag := range []time.Duration{0, 2 * time.Second, 5 * time.Second} {
			t.Run(fmt.Sprintf("%d callers, list lag %s", n, lag), func(t *testing.T) {
				h, jobs := matrixHistory(t, n, inmemory.Options{ListLag: lag})
				cs := runCallers(t, h, jobs, "--strategy", "trigger")
				_, joined, _ := checkOneLive(t, h, cs)
				if got := len(h.rollbacksOf(h.failed)); got != 1 || joined != n-1 {
					t.Fatalf("%d rollback pipelines created, %d joined; want 1 and %d", got, joined, n-1)
				}
				if !strings.Contains(cs[0].out.String(), "Rollback started") {
					t.Fatalf("the lowest job did not start it:\n%s", cs[0].out)
				}
			})
		}
	}
}

// Callers outside a job (or in unrelated pipelines' jobs) cannot rank
// themselves: they all trigger, and every one but the earliest cancels its
// own duplicate, after its own pipeline shows in the lagging list.
func TestOneLiveRollbackWithoutRanks(t *testing.T) {
	for _, strategy := range []string{"trigger", "rerun"} {
		for _, lag := range []time.Duration{0, 2 * time.Second} {
			t.Run(fmt.Sprintf("%s, list lag %s", strategy, lag), func(t *testing.T) {
				h, _ := matrixHistory(t, 1, inmemory.Options{ListLag: lag, Latency: 5 * time.Millisecond})
				cs := runCallers(t, h, make([]int64, 5), "--strategy", strategy)
				if strategy == "rerun" {
					var running int
					for _, w := range h.srv.Pipelines(h.slug)[1].Workflows {
						if w.RerunOf != "" && h.srv.WorkflowStatus(w.ID) != "canceled" {
							running++
						}
					}
					if running != 1 {
						t.Fatalf("%d reruns running, want 1", running)
					}
					return
				}
				_, _, cancelled := checkOneLive(t, h, cs)
				if created := len(h.rollbacksOf(h.failed)); created-1 != cancelled {
					t.Fatalf("%d created, %d cancelled by their callers", created, cancelled)
				}
			})
		}
	}
}

// A trigger answered 502 or cut off by a timeout after CircleCI created
// the pipeline: the caller finds it and joins; it sends no second trigger.
func TestTriggerFailsAfterCreation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault inmemory.Fault
	}{
		{"502", inmemory.Fault{Method: "POST", Status: 502, AfterServe: true}},
		{"timeout", inmemory.Fault{Method: "POST", Status: 504, AfterServe: true, Hang: true}},
	} {
		for _, lag := range []time.Duration{0, 2 * time.Second} {
			for _, job := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s, list lag %s, caller is a job %v", tc.name, lag, job), func(t *testing.T) {
					h, jobs := matrixHistory(t, 1, inmemory.Options{ListLag: lag})
					h.srv.Inject(tc.fault)
					env := map[string]string{}
					want := rollback.ActionJoined // it cannot tell its own from another's
					if job {
						env["CIRCLE_BUILD_NUM"] = fmt.Sprint(jobs[0])
						want = rollback.ActionStarted // no job ranks before it: the rollback is its own
					}
					hs := h.optionsEnv(t, env, "--strategy", "trigger")
					hs.opts.SettlePoll = 100 * time.Millisecond
					c, err := circleci.New(circleci.Options{Host: h.srv.URL(), Token: token,
						HTTP: httpx.New(httpx.Options{Retries: 3, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond, Timeout: 300 * time.Millisecond})})
					if err != nil {
						t.Fatal(err)
					}
					hs.opts.Client = c
					res, err := rollback.Do(context.Background(), hs.opts)
					if err != nil {
						t.Fatalf("%v\n%s", err, hs.out)
					}
					rbs := h.rollbacksOf(h.failed)
					if len(rbs) != 1 || res.Rollback == nil || res.Rollback.PipelineID != rbs[0].ID || res.Action != want {
						t.Fatalf("%d rollbacks, result %+v; want the one created, %s\n%s", len(rbs), res, want, hs.out)
					}
					wantEvent := map[string]string{rollback.ActionJoined: events.RollbackSkipped, rollback.ActionStarted: events.RollbackInitiated}[want]
					if got := names(readEvents(t, hs.events)); len(got) != 1 || got[0] != wantEvent {
						t.Fatalf("events %v, want %s", got, wantEvent)
					}
					posts := 0
					for _, r := range h.srv.Requests() {
						if r.Method == "POST" {
							posts++
						}
					}
					if posts != 1 {
						t.Fatalf("%d triggers sent, want 1", posts)
					}
				})
			}
		}
	}
	t.Run("5 callers, one 502 after creation", func(t *testing.T) {
		h, jobs := matrixHistory(t, 5, inmemory.Options{ListLag: 2 * time.Second})
		h.srv.Inject(inmemory.Fault{Method: "POST", Status: 502, AfterServe: true})
		cs := runCallers(t, h, jobs, "--strategy", "trigger")
		checkOneLiveOrJoined(t, h, cs)
	})
}

// checkOneLiveOrJoined is checkOneLive where the caller that started the
// rollback may not know it (its trigger's answer was lost): it joined.
func checkOneLiveOrJoined(t *testing.T, h *history, cs []*caller) {
	t.Helper()
	lv := live(h, h.rollbacksOf(h.failed))
	if len(lv) != 1 || len(h.rollbacksOf(h.failed)) != 1 {
		t.Fatalf("%d live of %d rollbacks, want exactly 1", len(lv), len(h.rollbacksOf(h.failed)))
	}
	for i, c := range cs {
		if c.err != nil || c.res.Rollback == nil || c.res.Rollback.PipelineID != lv[0].ID {
			t.Fatalf("caller %d: %+v %v\n%s", i, c.res, c.err, c.out)
		}
	}
}

// A trigger CircleCI accepts but whose pipeline errors (a config that does
// not compile) is not a rollback: the run says so and exits 3.
func TestTriggerAcceptedPipelineErrored(t *testing.T) {
	h, _ := matrixHistory(t, 1, inmemory.Options{OnTrigger: func(p *inmemory.Pipeline) []inmemory.WorkflowSeed {
		p.State = "errored"
		p.Errors = []inmemory.PipelineError{{Type: "config", Message: "Unknown parameter pmguard_rollback"}}
		return nil
	}})
	hs := h.options(t, "--strategy", "trigger")
	_, err := rollback.Do(context.Background(), hs.opts)
	if exitcode.Of(err) != exitcode.CouldNotRun || !strings.Contains(err.Error(), "Unknown parameter pmguard_rollback") {
		t.Fatalf("err %v (exit %d), want exit 3 with the pipeline's error", err, exitcode.Of(err))
	}
	evs := events.Filter(readEvents(t, hs.events), events.RollbackFailed)
	if len(evs) != 1 || evs[0].Figures.String("reason") != "not_started" {
		t.Fatalf("rollback_failed events %+v", evs)
	}
}

// An earlier rollback that was cancelled, failed or never started does not
// block a new one; the loop guard counts them and stops after MaxAttempts.
func TestDeadRollbacksAreCounted(t *testing.T) {
	seedDead := func(h *history, status string, age time.Duration) {
		seed := inmemory.PipelineSeed{Branch: "main", TriggerType: "api", Revision: sha('b'), CreatedAt: h.srv.Now().Add(-age),
			Params: map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.failed.ID, rollback.ParamTargetVersion: sha('a')}}
		if status != "" {
			seed.Workflows = []inmemory.WorkflowSeed{{Name: "deploy", Status: status}}
		}
		h.srv.AddPipeline(h.slug, seed)
	}
	for _, tc := range []struct {
		name   string
		dead   []string // statuses of earlier rollbacks ("" = no workflow ever)
		exit   int
		prints string
	}{
		{"an earlier rollback was cancelled", []string{"canceled"}, 0, "attempt 2 of 3"},
		{"an earlier rollback failed", []string{"failed"}, 0, "attempt 2 of 3"},
		{"an earlier rollback never started", []string{""}, 0, "no workflow started"},
		{"three rounds ended without success", []string{"failed", "canceled", ""}, 1, "3 rollbacks of pipeline 2 ended without success"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := matrixHistory(t, 1, inmemory.Options{})
			for i, st := range tc.dead {
				seedDead(h, st, time.Duration(30-10*i)*time.Minute)
			}
			hs := h.options(t, "--strategy", "trigger")
			res, err := rollback.Do(context.Background(), hs.opts)
			if exitcode.Of(err) != tc.exit || !strings.Contains(hs.out.String(), tc.prints) {
				t.Fatalf("exit %d (%v), want %d and %q in:\n%s", exitcode.Of(err), err, tc.exit, tc.prints, hs.out)
			}
			if tc.exit == 0 && (res.Action != rollback.ActionStarted || res.Attempt != len(tc.dead)+1) {
				t.Fatalf("result %+v", res)
			}
			if tc.exit != 0 && len(h.rollbacksOf(h.failed)) != len(tc.dead) {
				t.Fatal("a rollback started past the loop guard")
			}
		})
	}
}

// A followed rollback whose pipeline errors once its config is compiled,
// or never gets a workflow, did not start: the follow says so with the
// pipeline's error and exits 3, without waiting out wait_timeout.
func TestFollowedRollbackThatNeverStarts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		seed   func(p *inmemory.Pipeline)
		prints string
	}{
		{"errored after setup", func(p *inmemory.Pipeline) {
			p.State, p.SetupFor = "errored", 30*time.Second
			p.Errors = []inmemory.PipelineError{{Type: "config", Message: "Unknown parameter pmguard_rollback"}}
		}, "Unknown parameter pmguard_rollback"},
		{"no workflow ever", func(*inmemory.Pipeline) {}, "no workflow started within 2m0s"},
	} {
		for _, joined := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s, joined %v", tc.name, joined), func(t *testing.T) {
				h, _ := matrixHistory(t, 1, inmemory.Options{OnTrigger: func(p *inmemory.Pipeline) []inmemory.WorkflowSeed {
					tc.seed(p)
					return nil
				}})
				if joined {
					// An earlier caller's rollback, still setting up.
					c := h.srv.Client(t)
					if _, err := c.Pipelines.Trigger(context.Background(), h.slug, circleci.TriggerRequest{Branch: "main",
						Parameters: map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.failed.ID, rollback.ParamTargetVersion: h.good.Revision}}); err != nil {
						t.Fatal(err)
					}
				}
				hs := h.options(t, "--strategy", "trigger", "--wait", "--wait-timeout", "30m")
				start := h.srv.Now()
				res, err := rollback.Do(context.Background(), hs.opts)
				if exitcode.Of(err) != exitcode.CouldNotRun || !strings.Contains(err.Error(), tc.prints) {
					t.Fatalf("err %v (exit %d), want exit 3 saying %q\n%s", err, exitcode.Of(err), tc.prints, hs.out)
				}
				if waited := h.srv.Now().Sub(start); waited >= 30*time.Minute {
					t.Fatalf("followed for %s, until wait_timeout", waited)
				}
				if res != nil && res.Outcome == rollback.OutcomeTimeout {
					t.Fatalf("outcome %s", res.Outcome)
				}
				evs := events.Filter(readEvents(t, hs.events), events.RollbackFailed)
				if len(evs) != 1 || evs[0].Figures.String("reason") != "not_started" || evs[0].Figures.String("rollback_pipeline_id") == "" {
					t.Fatalf("rollback_failed events %+v", evs)
				}
				if got := len(h.rollbacksOf(h.failed)); got != 1 {
					t.Fatalf("%d rollback pipelines, want 1", got)
				}
			})
		}
	}
}

// A rollback that succeeded, after which the failed deploy was rerun and
// failed again, no longer holds production: the rerun's failure starts a
// new attempt instead of joining the old rollback. A job of the failed
// workflow that fails after the rollback succeeded still joins it.
func TestRerunAfterASucceededRollback(t *testing.T) {
	for _, rerun := range []bool{true, false} {
		t.Run(fmt.Sprintf("rerun %v", rerun), func(t *testing.T) {
			h := newHistory(t, "gh/acme/api", 4, 2, inmemory.Options{})
			first := h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", TriggerType: "api",
				Params:    map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.failed.ID, rollback.ParamTargetVersion: h.good.Revision},
				Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "success"}}})
			h.srv.Clock().Advance(10 * time.Minute)
			wf := h.deployWorkflow(h.failed)
			if rerun {
				id, err := h.srv.Client(t).Workflows.Rerun(context.Background(), wf, circleci.RerunRequest{})
				if err != nil {
					t.Fatal(err)
				}
				h.srv.SetWorkflowStatus(id, "failed")
				wf = id
			}
			hs := h.options(t, "--workflow-id", wf, "--strategy", "trigger")
			res, err := rollback.Do(context.Background(), hs.opts)
			if err != nil {
				t.Fatalf("%v\n%s", err, hs.out)
			}
			if !rerun {
				if res.Action != rollback.ActionJoined || res.Rollback.PipelineID != first.ID {
					t.Fatalf("result %+v, want the succeeded rollback joined\n%s", res, hs.out)
				}
				return
			}
			if res.Action != rollback.ActionStarted || res.Attempt != 2 || len(h.rollbacksOf(h.failed)) != 2 {
				t.Fatalf("result %+v, %d rollbacks; want a second attempt started\n%s", res, len(h.rollbacksOf(h.failed)), hs.out)
			}
		})
	}
}

// A job that fails long after the first rollback started, when the project
// has run more than 100 pipelines since (other branches), still finds that
// rollback and joins it: the list is read back to the failed pipeline.
func TestLateCallerBehindManyPipelines(t *testing.T) {
	h, jobs := matrixHistory(t, 1, inmemory.Options{})
	first := h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", TriggerType: "api",
		Params:    map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.failed.ID, rollback.ParamTargetVersion: h.good.Revision},
		Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "running"}}})
	for i := 0; i < 130; i++ {
		h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: fmt.Sprintf("feature-%d", i%7), Workflows: []inmemory.WorkflowSeed{{Name: "build", Status: "success"}}})
	}
	hs := h.optionsEnv(t, map[string]string{"CIRCLE_BUILD_NUM": fmt.Sprint(jobs[0])}, "--strategy", "trigger")
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, hs.out)
	}
	if res.Action != rollback.ActionJoined || res.Rollback.PipelineID != first.ID || len(h.rollbacksOf(h.failed)) != 1 {
		t.Fatalf("result %+v, %d rollbacks; want the first joined\n%s", res, len(h.rollbacksOf(h.failed)), hs.out)
	}
}

// A caller whose own trigger made a pipeline that errored, while another
// caller's rollback runs, joins that one: it cancels nothing, and does not
// say it cancelled a duplicate.
func TestOwnErroredTriggerBesideALiveRollback(t *testing.T) {
	var n atomic.Int64
	h, _ := matrixHistory(t, 1, inmemory.Options{ListLag: 2 * time.Second, OnTrigger: func(p *inmemory.Pipeline) []inmemory.WorkflowSeed {
		if n.Add(1) == 2 {
			p.State, p.Errors = "errored", []inmemory.PipelineError{{Type: "config", Message: "Unknown parameter pmguard_rollback"}}
			return nil
		}
		return []inmemory.WorkflowSeed{{Name: "deploy", Timeline: inmemory.Ends(time.Minute, "success")}}
	}})
	a := h.options(t, "--strategy", "trigger")
	b := h.options(t, "--strategy", "trigger")
	b.opts.SettlePoll = 100 * time.Millisecond
	// a's trigger is not in the list yet when b reads it.
	a.opts.ListLag, a.opts.SettlePoll = 0, 100*time.Millisecond
	ra, err := rollback.Do(context.Background(), a.opts)
	if err != nil || ra.Action != rollback.ActionStarted {
		t.Fatalf("a: %+v %v\n%s", ra, err, a.out)
	}
	rb, err := rollback.Do(context.Background(), b.opts)
	if err != nil {
		t.Fatalf("b: %v\n%s", err, b.out)
	}
	if rb.Action != rollback.ActionJoined || rb.Rollback.PipelineID != ra.Rollback.PipelineID || rb.Cancelled != nil || strings.Contains(b.out.String(), "cancelling") {
		t.Fatalf("b: action %s, rollback %+v, cancelled %+v; want a's joined and nothing cancelled\n%s", rb.Action, rb.Rollback, rb.Cancelled, b.out)
	}
	for _, r := range h.srv.Requests() {
		if strings.HasSuffix(r.Path, "/cancel") {
			t.Fatalf("cancel sent: %s", r.Path)
		}
	}
}

// The failed job runs with parallelism 3; node 0 passed, nodes 1 and 2
// failed and call the rollback step. Node 1 ranks first among the running
// nodes: it starts the rollback without waiting for node 0, which never
// will, and node 2 joins it: no duplicate.
func TestParallelNodesOfOneJob(t *testing.T) {
	setup := func(t *testing.T) (*history, int64) {
		h := &history{slug: "gh/acme/api", srv: circlecitest.New(t, inmemory.Options{Token: token})}
		h.srv.AddProject(h.slug)
		base := h.srv.Now().Add(-3 * time.Hour)
		h.good = h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", Revision: sha('a'), CreatedAt: base,
			Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "success"}}})
		h.failed = h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", Revision: sha('b'), CreatedAt: base.Add(time.Hour),
			Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "failing",
				Jobs: []inmemory.JobSeed{{Name: "deploy", Status: "running", Nodes: []string{"success", "running", "running"}}}}}})
		h.all = []*inmemory.Pipeline{h.good, h.failed}
		return h, h.failed.Workflows[0].Jobs[0].Number
	}
	t.Run("node 1 alone does not wait", func(t *testing.T) {
		h, n := setup(t)
		hs := h.optionsEnv(t, map[string]string{"CIRCLE_BUILD_NUM": fmt.Sprint(n), "CIRCLE_NODE_INDEX": "1"}, "--strategy", "trigger")
		start := h.srv.Now()
		res, err := rollback.Do(context.Background(), hs.opts)
		if err != nil || res.Action != rollback.ActionStarted {
			t.Fatalf("%+v %v\n%s", res, err, hs.out)
		}
		if strings.Contains(hs.out.String(), "Waiting") || h.srv.Now().Sub(start) >= hs.opts.ListLag {
			t.Fatalf("node 1 waited %s for node 0, which passed\n%s", h.srv.Now().Sub(start), hs.out)
		}
	})
	t.Run("nodes 1 and 2", func(t *testing.T) {
		h, n := setup(t)
		cs := make([]*caller, 2)
		for i := range cs {
			cs[i] = &caller{harness: h.optionsEnv(t, map[string]string{"CIRCLE_BUILD_NUM": fmt.Sprint(n), "CIRCLE_NODE_INDEX": fmt.Sprint(i + 1)}, "--strategy", "trigger")}
			cs[i].opts.SettlePoll, cs[i].opts.ListLag = 100*time.Millisecond, 30*time.Second
		}
		var wg sync.WaitGroup
		for _, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.res, c.err = rollback.Do(context.Background(), c.opts)
			}()
		}
		wg.Wait()
		checkOneLive(t, h, cs)
		if got := len(h.rollbacksOf(h.failed)); got != 1 || cs[0].res.Action != rollback.ActionStarted {
			t.Fatalf("%d rollback pipelines, node 1 %s; want 1, started by node 1\n%s\n%s", got, cs[0].res.Action, cs[0].out, cs[1].out)
		}
	})
}

// A caller whose duplicate must be cancelled follows the duplicate's own
// state: it cancels the workflows once they appear, however late within
// the time a rollback may take to start, and stops waiting as soon as the
// duplicate errors (nothing will run to cancel).
func TestDuplicateCancelledByItsState(t *testing.T) {
	for _, tc := range []struct {
		name string
		own  func(p *inmemory.Pipeline) []inmemory.WorkflowSeed
		warn bool
	}{
		{"its workflows appear after 90s", func(*inmemory.Pipeline) []inmemory.WorkflowSeed {
			return []inmemory.WorkflowSeed{{Name: "deploy", After: 90 * time.Second, Timeline: inmemory.Ends(10*time.Minute, "success")}}
		}, false},
		{"it errors after 20s", func(p *inmemory.Pipeline) []inmemory.WorkflowSeed {
			p.State, p.SetupFor = "errored", 20*time.Second
			p.Errors = []inmemory.PipelineError{{Type: "config", Message: "Unknown parameter pmguard_rollback"}}
			return nil
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int64
			h, _ := matrixHistory(t, 1, inmemory.Options{OnTrigger: func(p *inmemory.Pipeline) []inmemory.WorkflowSeed {
				if n.Add(1) == 2 {
					return tc.own(p)
				}
				return []inmemory.WorkflowSeed{{Name: "deploy", Timeline: inmemory.Ends(10*time.Minute, "success")}}
			}})
			hs := h.options(t, "--strategy", "trigger")
			var rival *circleci.PipelineCreation
			hs.opts.OnTrigger = func() {
				var err error
				rival, err = hs.opts.Client.Pipelines.Trigger(context.Background(), h.slug, circleci.TriggerRequest{Branch: "main",
					Parameters: map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.failed.ID, rollback.ParamTargetVersion: h.good.Revision}})
				if err != nil {
					t.Error(err)
				}
			}
			start := h.srv.Now()
			res, err := rollback.Do(context.Background(), hs.opts)
			if err != nil || res.Rollback == nil || res.Rollback.PipelineID != rival.ID {
				t.Fatalf("result %+v err %v, want the rival joined\n%s", res, err, hs.out)
			}
			if strings.Contains(hs.out.String(), "warning: cancelling") {
				t.Fatalf("the duplicate was not followed to its end:\n%s", hs.out)
			}
			if waited := h.srv.Now().Sub(start); waited > 2*time.Minute+hs.opts.PollMax {
				t.Fatalf("waited %s for the duplicate, past the time a rollback may take to start", waited)
			}
			h.srv.Clock().Advance(3 * time.Minute)
			if lv := live(h, h.rollbacksOf(h.failed)); len(lv) != 1 || lv[0].ID != rival.ID {
				t.Fatalf("live rollbacks %v, want only the rival's\n%s", lv, hs.out)
			}
		})
	}
}

// A trigger answered 502 after CircleCI created a pipeline that errored
// (its config does not compile): the caller finds that pipeline, reports
// the rollback as not started with the pipeline's error, and sends no
// second trigger, which would only error again.
func TestTriggerFailsAfterCreatingAnErroredPipeline(t *testing.T) {
	h, jobs := matrixHistory(t, 1, inmemory.Options{OnTrigger: func(p *inmemory.Pipeline) []inmemory.WorkflowSeed {
		p.State, p.Errors = "errored", []inmemory.PipelineError{{Type: "config", Message: "Unknown parameter pmguard_rollback"}}
		return nil
	}})
	h.srv.Inject(inmemory.Fault{Method: "POST", Status: 502, AfterServe: true})
	hs := h.optionsEnv(t, map[string]string{"CIRCLE_BUILD_NUM": fmt.Sprint(jobs[0])}, "--strategy", "trigger")
	hs.opts.SettlePoll = 100 * time.Millisecond
	_, err := rollback.Do(context.Background(), hs.opts)
	if exitcode.Of(err) != exitcode.CouldNotRun || !strings.Contains(err.Error(), "Unknown parameter pmguard_rollback") {
		t.Fatalf("err %v (exit %d), want exit 3 with the pipeline's error\n%s", err, exitcode.Of(err), hs.out)
	}
	posts := 0
	for _, r := range h.srv.Requests() {
		if r.Method == "POST" {
			posts++
		}
	}
	if posts != 1 || len(h.rollbacksOf(h.failed)) != 1 {
		t.Fatalf("%d triggers sent, %d rollback pipelines; want 1 and 1\n%s", posts, len(h.rollbacksOf(h.failed)), hs.out)
	}
}

// The caller whose rollback survives cancels the later live duplicates it
// sees as a courtesy (their own callers cancel them too), but it does not
// wait for a duplicate's workflows to appear: its own caller does that.
func TestSurvivorDoesNotWaitForAnothersDuplicate(t *testing.T) {
	h, _ := matrixHistory(t, 1, inmemory.Options{})
	hs := h.options(t, "--strategy", "trigger")
	var dup *inmemory.Pipeline
	h.front(t, hs, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != "POST" || !strings.HasSuffix(r.URL.Path, "/pipeline") {
			return false
		}
		h.srv.ServeHTTP(w, r)
		// A rival's duplicate, triggered just after this caller's, whose
		// workflows take a while to show.
		dup = h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", TriggerType: "api",
			Params:    map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: h.failed.ID, rollback.ParamTargetVersion: h.good.Revision},
			Workflows: []inmemory.WorkflowSeed{{Name: "deploy", After: 40 * time.Second, Timeline: inmemory.Ends(10*time.Minute, "success")}}})
		return true
	})
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil || res.Action != rollback.ActionStarted {
		t.Fatalf("result %+v err %v, want this caller's rollback started\n%s", res, err, hs.out)
	}
	if !h.srv.Now().Before(dup.CreatedAt.Add(40 * time.Second)) {
		t.Fatalf("the survivor returned at %s, after the rival's duplicate showed its workflows (%s): it waited for them\n%s",
			h.srv.Now().Sub(dup.CreatedAt), 40*time.Second, hs.out)
	}
}
