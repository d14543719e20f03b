package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/rollback"
	"github.com/pmguard/pmguard/internal/verb"
)

// callersResult is one run of n concurrent callers.
type callersResult struct {
	toTrigger time.Duration // start to the first trigger request
	allDone   time.Duration // start to the last caller's return
	created   int           // rollback pipelines created
	live      int           // rollback pipelines not cancelled
	actions   map[string]int
}

// runCallers starts n rollback callers at once against a stand-in whose
// pipeline list shows a new pipeline lag after its creation (on the real
// clock). ranked: the callers are the failed pipeline's n running jobs
// (CIRCLE_BUILD_NUM); otherwise they cannot rank themselves.
func runCallers(n int, lag, latency time.Duration, ranked bool) (callersResult, error) {
	srv := circlecitest.New(nil, fake.Options{Token: "bench-token", Now: time.Now, ListLag: lag})
	defer srv.Close()
	srv.AddProject(slug)
	srv.AddPipeline(slug, fake.PipelineSeed{Branch: "main", CreatedAt: time.Now().Add(-2 * time.Hour),
		Workflows: []fake.WorkflowSeed{{Name: "deploy", Status: "success"}}})
	var jobs []fake.JobSeed
	for i := 0; i < n; i++ {
		jobs = append(jobs, fake.JobSeed{Name: fmt.Sprintf("deploy-%d", i), Status: "running"})
	}
	failed := srv.AddPipeline(slug, fake.PipelineSeed{Branch: "main", CreatedAt: time.Now().Add(-time.Hour),
		Workflows: []fake.WorkflowSeed{{Name: "deploy", Status: "failing", Jobs: jobs}}})
	srv.SetLatency(latency)
	start := time.Now()
	var first atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, n)
	results := make([]*rollback.Result, n)
	for i := 0; i < n; i++ {
		env := map[string]string{"CIRCLE_TOKEN": srv.Token(), circleci.HostEnv: srv.URL()}
		if ranked {
			env["CIRCLE_BUILD_NUM"] = strconv.FormatInt(failed.Workflows[0].Jobs[i].Number, 10)
		}
		d := verb.New(config.MapEnv(env), io.Discard, io.Discard, "bench")
		o, err := rollback.New(context.Background(), d, []string{"--deploy-workflow", "deploy", "--strategy", "trigger", "--project-slug", slug,
			"--pipeline-id", failed.ID, "--workflow-id", failed.Workflows[0].ID, "--schema-check", "off"})
		if err != nil {
			return callersResult{}, err
		}
		o.OnTrigger = func() { first.CompareAndSwap(0, int64(time.Since(start))) }
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = rollback.Do(context.Background(), o)
		}()
	}
	wg.Wait()
	res := callersResult{toTrigger: time.Duration(first.Load()), allDone: time.Since(start), actions: map[string]int{}}
	for i := range errs {
		if errs[i] != nil {
			return res, errs[i]
		}
		res.actions[results[i].Action]++
	}
	for _, p := range srv.Pipelines(slug) {
		if p.Params[rollback.ParamRollbackOf] != failed.ID {
			continue
		}
		res.created++
		for _, w := range p.Workflows {
			if srv.WorkflowStatus(w.ID) != "canceled" {
				res.live++
				break
			}
		}
	}
	return res, nil
}

// runCallersTable prints the concurrency figures, median of runs.
func runCallersTable(n int, lag, latency time.Duration, runs int) error {
	fmt.Printf("\n%d concurrent callers, pipeline list lag %s, %s per request (real clock), median of %d runs:\n\n", n, lag, latency, runs)
	fmt.Printf("| callers | time to trigger | all callers returned | rollback pipelines created | live | started / joined / cancelled |\n|---|---|---|---|---|---|\n")
	for _, ranked := range []bool{true, false} {
		var rs []callersResult
		for i := 0; i < runs; i++ {
			r, err := runCallers(n, lag, latency, ranked)
			if err != nil {
				return err
			}
			rs = append(rs, r)
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].toTrigger < rs[j].toTrigger })
		m := rs[len(rs)/2]
		var done []time.Duration
		created, live := 0, 0
		for _, r := range rs {
			done = append(done, r.allDone)
			created, live = max(created, r.created), max(live, r.live)
		}
		sort.Slice(done, func(i, j int) bool { return done[i] < done[j] })
		who := "jobs of the failed pipeline (ranked)"
		if !ranked {
			who = "unranked (outside a job)"
		}
		fmt.Printf("| %s | %d ms | %s | %d (max of runs) | %d (max of runs) | %s |\n", who, m.toTrigger.Milliseconds(), done[len(done)/2].Round(10*time.Millisecond),
			created, live, strings.Join([]string{strconv.Itoa(m.actions[rollback.ActionStarted]), strconv.Itoa(m.actions[rollback.ActionJoined]), strconv.Itoa(m.actions[rollback.ActionCancelled])}, " / "))
	}
	return nil
}
