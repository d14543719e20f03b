// Command rollback measures how fast pmguard rollback reaches its trigger
// request against a CircleCI API stand-in that adds a fixed latency to every
// request, with the last good deploy several pages back. It compares, in one
// run: pmguard's concurrent walk, the same code walking one request at a
// time, a plain script-style walk (what a user would write with curl), and
// the deploy-markers path (rollback_pipeline strategy).
//
//	go run ./scripts/bench/rollback -latency 50ms -back 45 -runs 3
//
// With -callers it also runs that many callers at once against a pipeline
// list that lags (-list-lag), as jobs of the failed pipeline and as callers
// that cannot rank themselves; with -schema-migrations it times the schema
// check on a generated repository.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/pprof"
	"sort"
	"sync/atomic"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/rollback"
	"github.com/pmguard/pmguard/internal/verb"
)

const slug = "gh/acme/api"

func main() {
	latency := flag.Duration("latency", 50*time.Millisecond, "added to every API request")
	back := flag.Int("back", 45, "position of the last good deploy below the failed pipeline (20 per page: 45 is on page 3)")
	runs := flag.Int("runs", 3, "runs per approach (the median is reported)")
	validate := flag.Bool("validate", true, "validate every request and answer against the OpenAPI spec")
	callers := flag.Int("callers", 0, "also run this many concurrent callers against a lagging pipeline list (0: skip)")
	listLag := flag.Duration("list-lag", 2*time.Second, "with -callers: how long the pipeline list takes to show a new pipeline")
	schemaMigrations := flag.Int("schema-migrations", 0, "also time the schema check on this many migrations (0: skip)")
	schemaLines := flag.Int("schema-lines", 200000, "with -schema-migrations: lines of application code")
	only := flag.Bool("only", false, "run only the -callers and -schema-migrations parts")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	defer func() {
		if *callers > 0 {
			if err := runCallersTable(*callers, *listLag, *latency, *runs); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
		if *schemaMigrations > 0 {
			if err := runSchema(*schemaMigrations, *schemaLines, *runs); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
		}
	}()
	if *only {
		return
	}

	type approach struct {
		name string
		run  func(latency time.Duration, back int, validate bool) (time.Duration, int64, int64, error)
	}
	approaches := []approach{
		{"pmguard (concurrent walk)", func(l time.Duration, b int, v bool) (time.Duration, int64, int64, error) {
			return runPmguard(l, b, v, false, false)
		}},
		{"pmguard --sequential (same code, one request at a time)", func(l time.Duration, b int, v bool) (time.Duration, int64, int64, error) {
			return runPmguard(l, b, v, true, false)
		}},
		{"script-style walk (curl loop: list, then each pipeline's workflows)", runScript},
		{"pmguard, deploy markers (rollback_pipeline)", func(l time.Duration, b int, v bool) (time.Duration, int64, int64, error) {
			return runPmguard(l, b, v, false, true)
		}},
	}
	fmt.Printf("CircleCI stand-in: %s latency per request, %d pipelines, last good deploy %d pipelines back (page %d of 20-item pages), spec validation %v, %d runs each (median)\n\n",
		*latency, *back+15, *back, *back/20+1, *validate, *runs)
	fmt.Printf("| approach | time to trigger | API calls to trigger | API calls in all |\n|---|---|---|---|\n")
	for _, a := range approaches {
		var times []time.Duration
		var calls, total int64
		for i := 0; i < *runs; i++ {
			d, c, t, err := a.run(*latency, *back, *validate)
			if err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", a.name, err)
				os.Exit(1)
			}
			times = append(times, d)
			calls, total = c, t
		}
		sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
		fmt.Printf("| %s | %d ms | %d | %d |\n", a.name, times[len(times)/2].Milliseconds(), calls, total)
	}
}

// seed builds the history: back pipelines after the last good deploy failed
// their deploy too, then the failed pipeline; 14 good ones before.
func seed(latency time.Duration, back int, validate bool, markers bool) (*fake.Server, func(), *fake.Pipeline) {
	var srv *fake.Server
	var closeFn func()
	if validate {
		v := circlecitest.New(nil, fake.Options{Token: "bench-token"})
		srv, closeFn = v.Server, func() {
			v.Close()
			if f := v.Failures(); len(f) > 0 {
				fmt.Fprintf(os.Stderr, "spec validation failures: %v\n", f)
				os.Exit(1)
			}
		}
	} else {
		srv = fake.New(fake.Options{Token: "bench-token"})
		srv.Start()
		closeFn = srv.Close
	}
	srv.AddProject(slug)
	total := back + 15
	start := srv.Now().Add(-time.Duration(total) * time.Hour)
	var all []*fake.Pipeline
	for i := 0; i < total; i++ {
		status := "success"
		if i >= total-1-back {
			status = "failed"
		}
		all = append(all, srv.AddPipeline(slug, fake.PipelineSeed{Branch: "main", Revision: fmt.Sprintf("%040x", i+1), CreatedAt: start.Add(time.Duration(i) * time.Hour),
			Workflows: []fake.WorkflowSeed{{Name: "build", Status: "success"}, {Name: "deploy", Status: status}}}))
	}
	if markers {
		def := srv.AddDefinition(slug, "rollback")
		srv.SetRollbackDefinition(slug, def.ID)
		env := srv.AddEnvironment(slug, "production")
		comp := srv.AddComponent(slug, "api")
		for i, p := range all {
			srv.AddVersion(comp, env, fmt.Sprintf("v%d", i+1), p)
		}
	}
	srv.SetLatency(latency)
	return srv, closeFn, all[len(all)-1]
}

func runPmguard(latency time.Duration, back int, validate, sequential, markers bool) (time.Duration, int64, int64, error) {
	srv, closeFn, failed := seed(latency, back, validate, markers)
	defer closeFn()
	strategy := "trigger"
	if markers {
		strategy = "auto"
	}
	d := verb.New(config.MapEnv(map[string]string{"CIRCLE_TOKEN": srv.Token(), circleci.HostEnv: srv.URL()}), io.Discard, io.Discard, "bench")
	o, err := rollback.New(context.Background(), d, []string{"--deploy-workflow", "deploy", "--strategy", strategy, "--project-slug", slug,
		"--pipeline-id", failed.ID, "--workflow-id", failed.Workflows[1].ID, "--schema-check", "off"})
	if err != nil {
		return 0, 0, 0, err
	}
	c := o.Client
	var at time.Duration
	var callsAt int64
	start := time.Now()
	o.Sequential = sequential
	o.OnTrigger = func() { at, callsAt = time.Since(start), c.Calls() }
	_, err = rollback.Do(context.Background(), o)
	return at, callsAt, c.Calls(), err
}

// runScript is what a user would write without pmguard: get the failed
// pipeline, list its branch's pipelines page by page, read each older
// pipeline's workflows one by one until a successful deploy, trigger.
func runScript(latency time.Duration, back int, validate bool) (time.Duration, int64, int64, error) {
	srv, closeFn, failed := seed(latency, back, validate, false)
	defer closeFn()
	var calls atomic.Int64
	get := func(path string, out any) error {
		calls.Add(1)
		req, _ := http.NewRequest("GET", srv.URL()+"/api/v2"+path, nil)
		req.Header.Set("Circle-Token", srv.Token())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(out)
	}
	start := time.Now()
	var cur struct {
		Number int64 `json:"number"`
		VCS    struct {
			Branch, Revision string
		} `json:"vcs"`
	}
	if err := get("/pipeline/"+failed.ID, &cur); err != nil {
		return 0, 0, 0, err
	}
	token, target := "", ""
	for target == "" {
		var page struct {
			Items []struct {
				ID     string `json:"id"`
				Number int64  `json:"number"`
				VCS    struct {
					Revision string `json:"revision"`
				} `json:"vcs"`
			} `json:"items"`
			Next *string `json:"next_page_token"`
		}
		q := "?branch=" + cur.VCS.Branch
		if token != "" {
			q += "&page-token=" + token
		}
		if err := get("/project/"+slug+"/pipeline"+q, &page); err != nil {
			return 0, 0, 0, err
		}
		for _, p := range page.Items {
			if p.Number >= cur.Number {
				continue
			}
			var wfs struct {
				Items []struct{ Name, Status string } `json:"items"`
			}
			if err := get("/pipeline/"+p.ID+"/workflow", &wfs); err != nil {
				return 0, 0, 0, err
			}
			for _, w := range wfs.Items {
				if w.Name == "deploy" && w.Status == "success" {
					target = p.VCS.Revision
				}
			}
			if target != "" {
				break
			}
		}
		if page.Next == nil || target != "" {
			break
		}
		token = *page.Next
	}
	if target == "" {
		return 0, 0, 0, fmt.Errorf("no target found")
	}
	at, callsAt := time.Since(start), calls.Load()
	body, _ := json.Marshal(map[string]any{"branch": cur.VCS.Branch, "parameters": map[string]any{"pmguard_target_version": target}})
	req, _ := http.NewRequest("POST", srv.URL()+"/api/v2/project/"+slug+"/pipeline", bytes.NewReader(body))
	req.Header.Set("Circle-Token", srv.Token())
	req.Header.Set("Content-Type", "application/json")
	calls.Add(1)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, 0, err
	}
	resp.Body.Close()
	return at, callsAt, calls.Load(), nil
}
