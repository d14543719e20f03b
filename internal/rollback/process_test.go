package rollback_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/rollback"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// TestHelperProcess is pmguard rollback as a process of its own, as the
// orb runs it in each job: settings and job context from the environment,
// the real clock, nothing shared with the other callers but the API.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("PMGUARD_TEST_ROLLBACK_HELPER") != "1" {
		return
	}
	o, err := rollback.New(context.Background(), verbtest.OS(), nil)
	if err == nil {
		err = rollback.Run(context.Background(), o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	os.Exit(exitcode.Of(err))
}

// proc is one rollback_auto step's process and what it left.
type proc struct {
	out    string
	code   int
	events []events.Event
}

// runProcesses starts one process per job (job number, node index) of the
// failed pipeline at once and waits for all of them.
func runProcesses(t *testing.T, h *history, workflowID string, jobs [][2]int64) []proc {
	t.Helper()
	dir := t.TempDir()
	ps := make([]proc, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		evs := filepath.Join(dir, fmt.Sprintf("events-%d.jsonl", i))
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = []string{"PMGUARD_TEST_ROLLBACK_HELPER=1", "PATH=" + os.Getenv("PATH"), "HOME=" + dir,
			"CIRCLE_TOKEN=" + token, "PMGUARD_CIRCLECI_HOST=" + h.srv.URL(),
			"CIRCLE_PROJECT_USERNAME=acme", "CIRCLE_PROJECT_REPONAME=api", "CIRCLE_BUILD_URL=https://circleci.com/gh/acme/api/" + fmt.Sprint(j[0]),
			"CIRCLE_PIPELINE_ID=" + h.failed.ID, "CIRCLE_WORKFLOW_ID=" + workflowID,
			"CIRCLE_BUILD_NUM=" + fmt.Sprint(j[0]), "CIRCLE_NODE_INDEX=" + fmt.Sprint(j[1]), "CIRCLE_JOB=deploy",
			"PMGUARD_EVENTS_FILE=" + evs, "PMGUARD_ROLLBACK_STRATEGY=trigger", "PMGUARD_ROLLBACK_SCHEMA_CHECK=off"}
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := cmd.CombinedOutput()
			ps[i].out = string(out)
			if ee, ok := err.(*exec.ExitError); ok {
				ps[i].code = ee.ExitCode()
			} else if err != nil {
				t.Error(err)
			}
			ps[i].events, _, _ = events.ReadFiles(evs)
		}()
	}
	wg.Wait()
	return ps
}

// checkProcesses asserts one live rollback of the failed pipeline that
// every process names, started by exactly one of them; it returns it.
func checkProcesses(t *testing.T, h *history, ps []proc, dead ...*inmemory.Pipeline) *inmemory.Pipeline {
	t.Helper()
	var lv []*inmemory.Pipeline
	for _, p := range live(h, h.rollbacksOf(h.failed)) {
		if !slices.Contains(dead, p) {
			lv = append(lv, p)
		}
	}
	if len(lv) != 1 {
		for i, p := range ps {
			t.Logf("process %d (exit %d):\n%s", i, p.code, p.out)
		}
		t.Fatalf("%d live rollbacks, want 1", len(lv))
	}
	started := 0
	for i, p := range ps {
		if p.code != 0 || len(p.events) != 1 {
			t.Fatalf("process %d: exit %d, events %v\n%s", i, p.code, names(p.events), p.out)
		}
		var f events.Rollback
		p.events[0].Decode(&f)
		if f.RollbackPipelineID != lv[0].ID {
			t.Fatalf("process %d names rollback %s, the live one is %s\n%s", i, f.RollbackPipelineID, lv[0].ID, p.out)
		}
		if f.Action == rollback.ActionStarted {
			started++
		}
		if strings.Contains(p.out, token) {
			t.Fatalf("process %d printed the token", i)
		}
	}
	if started != 1 {
		t.Fatalf("%d processes started the rollback, want 1", started)
	}
	return lv[0]
}

// Jobs of the failed pipeline as separate processes start one rollback;
// after it failed, the jobs of a rerun of the failed workflow (one job of
// parallelism 3) start one more, the second attempt, and no other.
func TestOneLiveRollbackAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs processes")
	}
	h, nums := matrixHistory(t, 4, inmemory.Options{Now: time.Now})
	var jobs [][2]int64
	for _, n := range nums {
		jobs = append(jobs, [2]int64{n, 0})
	}
	first := checkProcesses(t, h, runProcesses(t, h, h.failed.Workflows[0].ID, jobs))

	// The rollback failed; the failed workflow ended, and is rerun.
	h.srv.SetWorkflowStatus(first.Workflows[0].ID, "failed")
	h.srv.SetWorkflowStatus(h.failed.Workflows[0].ID, "failed")
	c := h.srv.Client(t)
	id, err := c.Workflows.Rerun(context.Background(), h.failed.Workflows[0].ID, circleci.RerunRequest{FromFailed: true})
	if err != nil {
		t.Fatal(err)
	}
	rerun := h.srv.Workflow(id)
	n := rerun.Jobs[0].Number
	ps := runProcesses(t, h, id, [][2]int64{{n, 0}, {n, 1}, {n, 2}})
	second := checkProcesses(t, h, ps, first)
	if second.ID == first.ID || len(h.rollbacksOf(h.failed)) != 2 {
		t.Fatalf("%d rollbacks; want a second attempt after the failed one", len(h.rollbacksOf(h.failed)))
	}
	if !strings.Contains(ps[0].out, "attempt 2 of 3") {
		t.Fatalf("node 0 does not count the attempt:\n%s", ps[0].out)
	}
}
