package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
)

// runOrg measures an organisation: projects × perProject pipelines over
// six months, with latency per request. It runs, in one process's stand-in:
//   - the first sync into an empty store (what every run costs when no
//     store is kept: today's full re-read of the history);
//   - a daily incremental sync after a day's new pipelines, from the store
//     the first sync left;
//   - the full re-read again, into a fresh store, with the same new day.
func runOrg(projects, perProject int, latency time.Duration, concurrency string, killAfter time.Duration) error {
	dir, bin, err := buildPmguard("pmguard-bench-dora-org-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	conc := strings.Split(concurrency, ",")[0]
	const history = 180 * 24 * time.Hour
	now := time.Now().UTC()
	step := history / time.Duration(perProject)
	s := fake.New(fake.Options{Token: token, Latency: latency, Now: time.Now})
	names := make([]string, projects)
	var rules strings.Builder
	rules.WriteString("defaults: {branch: main}\nprojects:\n")
	for p := range projects {
		names[p] = fmt.Sprintf("gh/acme/service-%02d", p)
		wf := []string{"deploy", "release", "ship-production"}[p%3]
		fmt.Fprintf(&rules, "  %s: {deploy_workflow: %q, team: team-%d}\n", names[p], wf, p%5)
		s.AddProject(names[p])
		for i := range perProject {
			st := "success"
			if i%25 == 24 {
				st = "failed"
			}
			s.AddPipeline(names[p], fake.PipelineSeed{Branch: "main", CreatedAt: now.Add(-history + time.Duration(i)*step),
				Workflows: []fake.WorkflowSeed{{Name: "build", Timeline: fake.Ends(2*time.Minute, "success")}, {Name: wf, Timeline: fake.Ends(3*time.Minute, st)}}})
		}
	}
	s.Start()
	defer s.Close()
	rulesFile := filepath.Join(dir, "projects.yml")
	if err := os.WriteFile(rulesFile, []byte(rules.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("CircleCI stand-in: organisation gh/acme, %d projects × %d pipelines over 180 days (a build and a deploy workflow each; three deploy workflow names), %s per request; pmguard --concurrency %s\n\n",
		projects, perProject, latency, conc)
	fmt.Println("| run | wall time | peak memory (max RSS) | API requests | workflows fetched | deploys reported |")
	fmt.Println("|---|---|---|---|---|---|")
	store := filepath.Join(dir, "kept", "dora.db")
	row := func(name, store string) error {
		r, err := orgDora(bin, s.URL(), rulesFile, store, filepath.Join(dir, "out"), conc)
		if err != nil {
			return err
		}
		fmt.Printf("| %s | %.1f s | %.0f MB | %s | %s | %s |\n", name, r.wall.Seconds(), float64(r.maxRSS)/1024, r.calls, r.fetched, r.deploys)
		return nil
	}
	if err := row("first sync (empty store) = every run without a kept store", store); err != nil {
		return err
	}
	// A day's new pipelines: the same rate, created after the first sync.
	perDay := int(24 * time.Hour / step)
	for p := range projects {
		for range perDay {
			s.AddPipeline(names[p], fake.PipelineSeed{Branch: "main",
				Workflows: []fake.WorkflowSeed{{Name: "build", Timeline: fake.Ends(0, "success")}, {Name: []string{"deploy", "release", "ship-production"}[p%3], Timeline: fake.Ends(0, "success")}}})
		}
	}
	fmt.Fprintf(os.Stderr, "added %d pipelines (a day's worth)\n", perDay*projects)
	if err := row(fmt.Sprintf("daily incremental sync (kept store, %d new pipelines)", perDay*projects), store); err != nil {
		return err
	}
	if err := row("full re-read of the same history (fresh store)", filepath.Join(dir, "fresh", "dora.db")); err != nil {
		return err
	}
	full, err := os.ReadFile(filepath.Join(dir, "out", "dora.json"))
	if err != nil {
		return err
	}
	if killAfter <= 0 {
		return nil
	}
	// A first sync killed with SIGKILL part way, then run again: the rerun
	// must report exactly what the full re-read did.
	killed := filepath.Join(dir, "killed", "dora.db")
	if err := orgDoraKill(bin, s.URL(), rulesFile, killed, filepath.Join(dir, "out-killed"), conc, killAfter); err != nil {
		return err
	}
	if err := row(fmt.Sprintf("rerun after a first sync killed (SIGKILL) at %s", killAfter), killed); err != nil {
		return err
	}
	again, err := os.ReadFile(filepath.Join(dir, "out", "dora.json"))
	if err != nil {
		return err
	}
	fmt.Printf("\nfigures after the kill and rerun equal the full re-read's: %v\n", units(again) == units(full))
	return nil
}

// units is the report's counts per unit and month: what must not depend on
// how the store was filled (rates per day move with the clock).
func units(report []byte) string {
	type counts struct {
		Deploys        int   `json:"deploys"`
		Failed         int   `json:"failed"`
		Rework         int   `json:"rework"`
		Recovered      int   `json:"recovered"`
		RecoveryMedian int64 `json:"recovery_median_ns"`
	}
	var r struct {
		Units []struct {
			Name   string   `json:"name"`
			Window counts   `json:"window"`
			Months []counts `json:"months"`
		} `json:"units"`
	}
	if err := json.Unmarshal(report, &r); err != nil {
		return "unreadable: " + err.Error()
	}
	b, _ := json.Marshal(r.Units)
	return string(b)
}

func orgDoraKill(bin, url, rules, store, out, concurrency string, after time.Duration) error {
	cmd := dora(bin, url, "--org-slug", "gh/acme", "--projects-file", rules, "--store", store, "--months", "6",
		"--window", "30d", "--git-dir", "", "--output-dir", out, "--concurrency", concurrency)
	if err := cmd.Start(); err != nil {
		return err
	}
	time.Sleep(after)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("the sync ended before %s: %v", after, err)
	}
	_ = cmd.Wait()
	return nil
}

type orgResult struct {
	wall                    time.Duration
	maxRSS                  int64
	calls, fetched, deploys string
}

func orgDora(bin, url, rules, store, out, concurrency string) (*orgResult, error) {
	stdout, wall, rss, err := measure(dora(bin, url, "--org-slug", "gh/acme", "--projects-file", rules,
		"--store", store, "--months", "6", "--window", "30d", "--git-dir", "", "--output-dir", out, "--json", filepath.Join(out, "dora.json"),
		"--concurrency", concurrency, "--targets", "deploy_frequency: 10/day, change_fail_rate: 5%"))
	if err != nil {
		return nil, err
	}
	r := &orgResult{wall: wall, maxRSS: rss}
	if m := regexp.MustCompile(`fetched the workflows of (\d+) \((\d+) API requests\)`).FindStringSubmatch(stdout); m != nil {
		r.fetched, r.calls = m[1], m[2]
	}
	if m := regexp.MustCompile(`Organisation gh/acme: (\d+) deploys`).FindStringSubmatch(stdout); m != nil {
		r.deploys = m[1] + " (last 30 days)"
	}
	return r, nil
}
