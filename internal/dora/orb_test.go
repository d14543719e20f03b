package dora

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
	"github.com/pmguard/pmguard/orb/orbtest"
)

// asVerb makes this test binary stand in for `pmguard dora` when the orb
// test's wrapper script runs it, built through New from the environment
// the orb step sets, as cmd/pmguard does.
// (Not PMGUARD_DORA_*: the verb would warn of it as no setting.)
const asVerb = "PMGUARD_TEST_RUN_DORA"

func TestMain(m *testing.M) {
	if os.Getenv(asVerb) != "" {
		os.Exit(runVerb(os.Args[1:]))
	}
	os.Exit(m.Run())
}

func runVerb(args []string) int {
	ctx := context.Background()
	o, err := New(ctx, verbtest.OS(), args)
	if err == nil {
		o.Summary = nil // the stand-in serves no Insights summary
		err = Run(ctx, o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "pmguard dora:", err)
	}
	return exitcode.Of(err)
}

// TestOrbDoraReport runs the orb's dora_report job as CircleCI would, twice
// a day apart, for an organisation: every new parameter reaches the binary
// (org_slug, projects_file, targets, months, sync_overlap, store), the
// store travels in the cache between the jobs, and the second job fetches
// only the new pipelines' workflows.
func TestOrbDoraReport(t *testing.T) {
	o, bin := orbtest.WithVerb(t, filepath.Join("..", "..", "orb", "src"), "dora", asVerb)
	// The job's clock is the machine's: the history ends now.
	now := time.Now().UTC()
	s := circlecitest.New(t, fake.Options{Token: token, Now: time.Now})
	seedProject(s, "gh/acme/shop", "main", "deploy-production", 40, now)
	seedProject(s, "gh/acme/api", "production", "release", 20, now)
	shared := t.TempDir()
	rules := filepath.Join(shared, "projects.yml")
	os.WriteFile(rules, []byte("projects:\n  gh/acme/shop: {deploy_workflow: deploy-*, branch: main, team: payments}\n  gh/acme/api: {deploy_workflow: release, branch: production, team: platform}\n"), 0o644)
	store := filepath.Join(shared, "store", "dora.db")
	var cache *orbtest.Cache
	runJob := func() (*orbtest.Job, string) {
		job := orbtest.NewJob(t, o)
		if cache != nil {
			job.Cache = cache
		}
		cache = job.Cache
		job.Env["PATH"] = bin + ":" + os.Getenv("PATH")
		job.Env["CIRCLE_TOKEN"] = token
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out := filepath.Join(job.Dir, "dora")
		err := job.RunJob(ctx, "dora_report", map[string]any{
			"checkout": false, "git_dir": "", "org_slug": "gh/acme", "projects_file": rules, "months": 2, "sync_overlap": "12h",
			"targets": "deploy_frequency: 10/day, change_fail_rate: 5%", "store": store, "circleci_host": s.URL(),
			"output_dir": out, "json_path": filepath.Join(out, "dora.json"), "events_file": filepath.Join(job.Dir, "events.jsonl"),
		})
		if err != nil {
			t.Fatalf("job: %v", err)
		}
		var output string
		for _, st := range job.Steps {
			if st.Name == "Compute DORA metrics" {
				output = st.Output
				for k, v := range map[string]string{"PMGUARD_DORA_ORG_SLUG": "gh/acme", "PMGUARD_DORA_MONTHS": "2", "PMGUARD_DORA_SYNC_OVERLAP": "12h", "PMGUARD_DORA_STORE": store} {
					if st.Env[k] != v {
						t.Errorf("%s = %q, want %q", k, st.Env[k], v)
					}
				}
			}
		}
		return job, output
	}
	_, out1 := runJob()
	if !strings.Contains(out1, "Team payments") || !strings.Contains(out1, "→ target 10/day") || !strings.Contains(out1, "Organisation gh/acme") {
		t.Errorf("first job's output:\n%s", out1)
	}
	if !strings.Contains(out1, "fetched the workflows of 60") {
		t.Errorf("first job did not read the whole history:\n%s", out1)
	}
	// The next job starts on a fresh machine: the store comes from the cache.
	if err := os.RemoveAll(filepath.Dir(store)); err != nil {
		t.Fatal(err)
	}
	// Three pipelines started since the last job (still deploying: their
	// end is read by a later job).
	for range 3 {
		s.AddPipeline("gh/acme/shop", fake.PipelineSeed{Branch: "main", Revision: strings.Repeat("f", 40),
			Workflows: []fake.WorkflowSeed{{Name: "deploy-production", Timeline: fake.Ends(5*time.Minute, "success")}}})
	}
	_, out2 := runJob()
	if !strings.Contains(out2, "fetched the workflows of 3 ") {
		t.Errorf("second job did not read only the new pipelines:\n%s", out2)
	}
}
