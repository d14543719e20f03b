// Command dora measures `pmguard dora` over a large CircleCI history: a
// stand-in serving N pipelines (each with a build and a deploy workflow)
// with a fixed latency per request, and a git repository holding every
// deployed commit. It runs the real binary twice in one run, with
// concurrent fetching (the default) and with one request at a time (what a
// straightforward script does), and reports wall time, peak memory (max
// RSS of the process) and API calls of each.
//
//	go run ./scripts/bench/dora -pipelines 10000 -latency 50ms
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/httpx"
)

const (
	slug  = "gh/acme/shop"
	token = "bench-token-0123456789" // the stand-in's
)

func main() {
	if len(os.Args) > 2 && os.Args[1] == measureFlag {
		launch(os.Args[2:])
		return
	}
	n := flag.Int("pipelines", 10000, "pipelines in the history, all inside the window")
	latency := flag.Duration("latency", 50*time.Millisecond, "added to every API request")
	concurrency := flag.String("concurrency", "16", "pmguard's --concurrency for the concurrent runs, comma-separated")
	validate := flag.Bool("validate", false, "validate every request and answer against the OpenAPI spec (costs the stand-in CPU)")
	sequential := flag.Bool("sequential", true, "also run with --concurrency 1")
	projects := flag.Int("projects", 0, "organisation mode: this many projects of -pipelines each (first sync, a daily incremental sync and a full re-read)")
	killAfter := flag.Duration("kill-after", 0, "organisation mode: also kill a first sync with SIGKILL after this long, rerun it and compare the figures")
	flag.Parse()
	if *projects > 0 {
		if err := runOrg(*projects, *n, *latency, *concurrency, *killAfter); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*n, *latency, *concurrency, *validate, *sequential); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(n int, latency time.Duration, concurrency string, validate, sequential bool) error {
	dir, bin, err := buildPmguard("pmguard-bench-dora-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	repo := filepath.Join(dir, "repo")
	now := time.Now().UTC()
	window := 30 * 24 * time.Hour
	step := window / time.Duration(n+1)
	t0 := time.Now()
	shas, err := gitHistory(repo, n, now.Add(-window), step)
	if err != nil {
		return err
	}
	fmt.Printf("git: %d commits in %s\n", len(shas), time.Since(t0).Round(time.Millisecond))

	opts := fake.Options{Token: token, Latency: latency, Now: time.Now}
	var url string
	var closeFn func()
	if validate {
		s := circlecitest.New(nil, opts)
		url, closeFn = s.URL(), s.Close
		seed(s.Server, n, shas, now.Add(-window), step)
	} else {
		s := fake.New(opts)
		seed(s, n, shas, now.Add(-window), step)
		s.Start()
		url, closeFn = s.URL(), s.Close
	}
	defer closeFn()
	fmt.Printf("CircleCI stand-in: %d pipelines on main over 30 days (a build and a deploy workflow each; 1 in 25 deploys fails, 1 in 50 is rolled back), %s per request, spec validation %v\n\n",
		n, latency, validate)

	fmt.Println("| run | wall time | peak memory (max RSS) | API calls | deployments | lead-time commits | load average before |")
	fmt.Println("|---|---|---|---|---|---|---|")
	var runs []int
	for _, c := range strings.Split(concurrency, ",") {
		var v int
		if _, err := fmt.Sscan(strings.TrimSpace(c), &v); err != nil || v < 1 {
			return fmt.Errorf("bad -concurrency %q", c)
		}
		runs = append(runs, v)
	}
	if sequential {
		runs = append(runs, 1)
	}
	for _, c := range runs {
		load, _ := os.ReadFile("/proc/loadavg")
		r, err := runDora(bin, url, repo, dir, c)
		if err != nil {
			return err
		}
		name := fmt.Sprintf("pmguard dora --concurrency %d", c)
		if c == 1 {
			name += " (sequential)"
		}
		fmt.Printf("| %s | %.1f s | %.0f MB | %s | %s | %s | %s |\n", name, r.wall.Seconds(), float64(r.maxRSS)/1024, r.calls, r.deploys, r.commits, strings.Join(strings.Fields(string(load))[:3], " "))
	}
	// The floor: walking the pipeline pages alone, which no client can
	// parallelise (each page's token comes from the one before).
	load, _ := os.ReadFile("/proc/loadavg")
	c, err := circleci.New(circleci.Options{Host: url, Token: token, HTTP: httpx.New(httpx.Options{})})
	if err != nil {
		return err
	}
	start := time.Now()
	pages := 0
	for _, err := range c.Pipelines.Pages(context.Background(), slug, &circleci.ListPipelinesOptions{Branch: "main"}, 0) {
		if err != nil {
			return err
		}
		pages++
	}
	fmt.Printf("| page walk alone (%d list requests, no workflows: the floor for any client) | %.1f s | — | %d | — | — | %s |\n",
		pages, time.Since(start).Seconds(), pages, strings.Join(strings.Fields(string(load))[:3], " "))
	return nil
}

type result struct {
	wall                    time.Duration
	maxRSS                  int64 // KiB
	calls, deploys, commits string
}

func runDora(bin, url, repo, dir string, concurrency int) (*result, error) {
	out := filepath.Join(dir, fmt.Sprintf("out-%d", concurrency))
	stdout, wall, rss, err := measure(dora(bin, url, "--project-slug", slug, "--branch", "main",
		"--deploy-workflow", "deploy", "--window", "30d", "--git-dir", repo, "--output-dir", out,
		"--json", filepath.Join(out, "dora.json"), "--concurrency", fmt.Sprint(concurrency), "--store", filepath.Join(out, "dora.db")))
	if err != nil {
		return nil, err
	}
	r := &result{wall: wall, maxRSS: rss}
	if m := regexp.MustCompile(`\((\d+) API requests\)`).FindStringSubmatch(stdout); m != nil {
		r.calls = m[1]
	}
	if m := regexp.MustCompile(`; (\d+) deploys on`).FindStringSubmatch(stdout); m != nil {
		r.deploys = m[1]
	}
	if m := regexp.MustCompile(`\((\d+) commits\)`).FindStringSubmatch(stdout); m != nil {
		r.commits = m[1]
	}
	return r, nil
}

// buildPmguard builds the binary under measure into a fresh temporary
// directory, which then holds the run's files too; the caller removes it.
func buildPmguard(prefix string) (dir, bin string, err error) {
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "pmguard")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/pmguard").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return "", "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return dir, bin, nil
}

// dora is `pmguard dora args` against the CircleCI stand-in at url.
func dora(bin, url string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"dora"}, args...)...)
	cmd.Env = append(os.Environ(), "CIRCLE_TOKEN="+token, "PMGUARD_CIRCLECI_HOST="+url)
	return cmd
}

// measure runs cmd through the launcher: its output, wall time and max RSS
// (KiB); a failure carries everything it printed.
func measure(cmd *exec.Cmd) (string, time.Duration, int64, error) {
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	rss, err := runMeasured(cmd)
	wall := time.Since(start)
	if err != nil {
		return "", 0, 0, fmt.Errorf("pmguard dora: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	return stdout.String(), wall, rss, nil
}

// gitHistory writes a linear history of n commits, one per pipeline,
// authored an hour before its pipeline, with git fast-import.
func gitHistory(dir string, n int, start time.Time, step time.Duration) ([]string, error) {
	if out, err := exec.Command("git", "init", "-q", "-b", "main", dir).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git init: %v: %s", err, out)
	}
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i+1)*step - time.Hour).Unix()
		msg := fmt.Sprintf("change %d", i)
		fmt.Fprintf(&b, "commit refs/heads/main\nmark :%d\nauthor dev <dev@example.com> %d +0000\ncommitter dev <dev@example.com> %d +0000\ndata %d\n%s\n", i+1, at, at, len(msg), msg)
		if i > 0 {
			fmt.Fprintf(&b, "from :%d\n", i)
		}
		fmt.Fprintf(&b, "M 644 inline file.txt\ndata %d\n%d\n\n", len(fmt.Sprint(i))+1, i)
	}
	imp := exec.Command("git", "-C", dir, "fast-import", "--quiet")
	imp.Stdin = &b
	if out, err := imp.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("git fast-import: %v: %s", err, out)
	}
	list, err := exec.Command("git", "-C", dir, "rev-list", "--reverse", "main").Output()
	if err != nil {
		return nil, err
	}
	var shas []string
	sc := bufio.NewScanner(bytes.NewReader(list))
	for sc.Scan() {
		shas = append(shas, strings.TrimSpace(sc.Text()))
	}
	return shas, nil
}

// seed adds n pipelines on main, one every step from start, each with a
// build and a deploy workflow of a few minutes; every 25th deploy fails and
// every 50th is followed by a rollback pipeline.
func seed(s *fake.Server, n int, shas []string, start time.Time, step time.Duration) {
	s.AddProject(slug)
	for i := 0; i < n; i++ {
		deploy := fake.Ends(3*time.Minute, "success")
		if i%25 == 24 {
			deploy = fake.Ends(3*time.Minute, "failed")
		}
		seed := fake.PipelineSeed{Branch: "main", Revision: shas[i], Subject: fmt.Sprintf("change %d", i), CreatedAt: start.Add(time.Duration(i+1) * step),
			Workflows: []fake.WorkflowSeed{{Name: "build", Timeline: fake.Ends(2*time.Minute, "success")}, {Name: "deploy", Timeline: deploy}}}
		p := s.AddPipeline(slug, seed)
		if i%50 == 10 && i+1 < n {
			// The rollback takes this pipeline's slot's first half; the
			// pipeline count stays n.
			i++
			s.AddPipeline(slug, fake.PipelineSeed{Branch: "main", Revision: shas[i-2], TriggerType: "api",
				Params:    map[string]any{"pmguard_rollback": true, "pmguard_rollback_of": p.ID},
				CreatedAt: start.Add(time.Duration(i+1) * step), Workflows: []fake.WorkflowSeed{{Name: "deploy", Timeline: fake.Ends(3*time.Minute, "success")}}})
		}
	}
}
