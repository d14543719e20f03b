package orb_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/pmguard/pmguard/internal/deploymarker/markertest"
	"github.com/pmguard/pmguard/orb/orbtest"
)

// TestExampleCanariesAreSound runs the analysis step of every canary in the
// examples and in the YAML blocks of README.md and docs/*.md with the real
// binary, as a user copying it gets it, with each source pointed at a
// closed loopback port: an example's parameters must be accepted (no exit
// 2; a doc's block may be a fragment), and pmguard must not warn at the
// start that the settings
// cannot reach a verdict (a "canary: note:" that max_duration leaves
// healthy canaries undecided, or is too short for a check to fail a slow
// one).
func TestExampleCanariesAreSound(t *testing.T) {
	h := newHarness(t)
	if err := h.install(nil); err != nil {
		t.Fatal(err)
	}
	o := h.job.Orb
	closed := "http://127.0.0.1:1"
	isCanary := func(name string) bool { return name == "canary_check" || name == "canary_deploy" }
	var canaries []use // where: the example or the doc's line
	names := make([]string, 0, len(o.Examples))
	for name := range o.Examples {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		ex := o.Examples[name]
		for _, u := range uses(ex.Usage, orbAlias(ex.Usage)) {
			if u.kind == "command" && isCanary(u.name) {
				u.where = name + " " + u.where
				canaries = append(canaries, u)
			}
		}
	}
	for where, doc := range docYAMLBlocks(t) {
		for _, u := range orbUses(doc) {
			if isCanary(u.name) {
				u.kind, u.where = "doc", where // a doc's block may be a fragment
				canaries = append(canaries, u)
			}
		}
	}
	sort.Slice(canaries, func(i, j int) bool { return canaries[i].where < canaries[j].where })
	checked := 0
	for _, u := range canaries {
		where := u.where
		steps, err := orbtest.NewJob(t, o).Expand(u.name, u.args)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		for _, s := range steps {
			run, _ := s["run"].(map[string]any)
			if cmd, _ := run["command"].(string); strings.TrimSpace(cmd) != "pmguard canary" {
				continue
			}
			env := map[string]any{}
			for k, v := range run["environment"].(map[string]any) {
				env[k] = orbtest.Text(v)
			}
			if env["PMGUARD_CANARY_CHECK_ONLY"] == "true" || env["PMGUARD_CANARY_PROMOTION"] != "" {
				continue // canary_deploy's check of the parameters, its record of the promotion
			}
			for _, k := range []string{"PMGUARD_CANARY_URL", "PMGUARD_CANARY_BASELINE_URL", "PMGUARD_CANARY_PROMETHEUS_URL", "PMGUARD_CANARY_DD_SITE"} {
				if env[k] != "" || (k == "PMGUARD_CANARY_DD_SITE" && env["PMGUARD_CANARY_SOURCE"] == "datadog") {
					env[k] = closed
				}
			}
			if env["PMGUARD_CANARY_SET_WEIGHT"] != "" {
				env["PMGUARD_CANARY_SET_WEIGHT"] = "true" // the user's traffic script
			}
			env["PMGUARD_CANARY_DEPLOY_MARKERS"] = "off"
			out := t.TempDir() // not the orb's /tmp/pmguard of the host
			env["PMGUARD_EVENTS_FILE"] = filepath.Join(out, "events.jsonl")
			env["PMGUARD_CANARY_JUNIT"] = filepath.Join(out, "junit.xml")
			env["PMGUARD_CANARY_JSON"] = filepath.Join(out, "report.json")
			for _, k := range []string{"PROM_TOKEN", "DD_API_KEY", "DD_APP_KEY", "API_TOKEN"} {
				h.job.Env[k] = "test-secret"
			}
			checked++
			h.job.RunSteps(h.ctx, map[string]any{"run": map[string]any{
				"name": where, "command": "pmguard canary", "environment": env, "when": "always",
			}})
			last := h.job.LastRun()
			if last == nil || last.Name != where {
				t.Fatalf("%s: the analysis did not run", where)
			}
			if last.Exit == 2 {
				if u.kind != "doc" { // a fragment ("url ... as above") may lack a required setting
					t.Errorf("%s: pmguard canary refuses the example's parameters:\n%s", where, last.Output)
				}
				continue
			}
			for _, line := range strings.Split(last.Output, "\n") {
				if strings.HasPrefix(line, "canary: note:") {
					t.Errorf("%s: %s", where, line)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no example runs a canary analysis")
	}
}

// TestExampleWorkspacesCanBeAttached checks every attach_workspace of the
// examples, in their own jobs and in the orb's (attach_workspace: true):
// a job sees only what jobs upstream of it in its workflow persisted, so
// one of them must persist_to_workspace, or the attached directory is
// empty. A workspace never reaches another pipeline.
func TestExampleWorkspacesCanBeAttached(t *testing.T) {
	o := parsed(t, fakePin(pinned))
	names := make([]string, 0, len(o.Examples))
	for name := range o.Examples {
		names = append(names, name)
	}
	sort.Strings(names)
	attaches := 0
	for _, name := range names {
		usage := o.Examples[name].Usage
		prefix := orbAlias(usage) + "/"
		userJobs, _ := usage["jobs"].(map[string]any)
		workflows, _ := usage["workflows"].(map[string]any)
		for wname, w := range workflows {
			type node struct {
				persists, attaches bool
				requires           []string
			}
			graph := map[string]*node{}
			list, _ := w.(map[string]any)["jobs"].([]any)
			for _, entry := range list {
				job, args := "", map[string]any{}
				switch e := entry.(type) {
				case string:
					job = e
				case map[string]any:
					for k, v := range e {
						job = k
						if m, ok := v.(map[string]any); ok {
							args = m
						}
					}
				}
				n := &node{}
				id := job
				if s, ok := args["name"].(string); ok {
					id = s
				}
				reqs, _ := args["requires"].([]any)
				for _, r := range reqs {
					switch x := r.(type) {
					case string:
						n.requires = append(n.requires, x)
					case map[string]any: // - deploy: failed
						for k := range x {
							n.requires = append(n.requires, k)
						}
					}
				}
				j := orbtest.NewJob(t, o)
				var steps []map[string]any
				addSteps := func(raw any) {
					list, _ := raw.([]any)
					for _, s := range list {
						m, ok := s.(map[string]any)
						if !ok {
							continue
						}
						for k, v := range m {
							if cmd, ok := strings.CutPrefix(k, prefix); ok {
								a, _ := v.(map[string]any)
								exp, err := j.Expand(cmd, a)
								if err != nil {
									t.Fatalf("%s: %s: %v", name, k, err)
								}
								steps = append(steps, exp...)
							} else {
								steps = append(steps, m)
							}
						}
					}
				}
				addSteps(args["pre-steps"])
				if orbJob, ok := strings.CutPrefix(job, prefix); ok {
					jobArgs := map[string]any{}
					for k, v := range args {
						jobArgs[k] = v
					}
					for _, k := range workflowJobKeys {
						delete(jobArgs, k)
					}
					exp, err := j.ExpandJob(orbJob, jobArgs)
					if err != nil {
						t.Fatalf("%s: %s: %v", name, job, err)
					}
					steps = append(steps, exp...)
				} else if uj, ok := userJobs[job].(map[string]any); ok {
					addSteps(uj["steps"])
				}
				addSteps(args["post-steps"])
				for _, s := range steps {
					_, p := s["persist_to_workspace"]
					_, a := s["attach_workspace"]
					n.persists = n.persists || p
					n.attaches = n.attaches || a
				}
				graph[id] = n
			}
			for id, n := range graph {
				if !n.attaches {
					continue
				}
				attaches++
				seen, upstream, found := map[string]bool{}, append([]string{}, n.requires...), false
				for len(upstream) > 0 && !found {
					u := upstream[0]
					upstream = upstream[1:]
					if seen[u] || graph[u] == nil {
						continue
					}
					seen[u] = true
					found = graph[u].persists
					upstream = append(upstream, graph[u].requires...)
				}
				if !found {
					t.Errorf("%s: workflow %s, job %s attaches the workspace, but no job it requires (directly or not) persists to it: the attached directory is empty", name, wname, id)
				}
			}
		}
	}
	if attaches == 0 {
		t.Fatal("no example attaches a workspace; the check checked nothing")
	}
}

// TestMigrationCheckDeployedExampleAcrossPipelines runs
// migration_check_deployed.yml's two jobs as two pipelines would: the
// deploy job's health check passes and its event log goes into the cache;
// the check job of a later pipeline, on a fresh machine, restores it and
// finds the deployed commit there (base: deployed). Without the cache the
// check has no deployed commit to compare with.
func TestMigrationCheckDeployedExampleAcrossPipelines(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not installed")
	}
	h := newHarness(t)
	scratch := t.TempDir()
	events := filepath.Join(scratch, "pmguard", "events.jsonl") // the orb's /tmp/pmguard/events.jsonl
	saved := filepath.Join(scratch, "production-deploy")
	for _, d := range []*orbtest.Definition{h.job.Orb.Commands["health_check"], h.job.Orb.Commands["migration_check"]} {
		d.Parameters["events_file"].Default = events
	}
	b, err := yaml.Marshal(h.job.Orb.Examples["migration_check_deployed"].Usage)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("/tmp/pmguard/events.jsonl", events, "/tmp/production-deploy", saved,
		"<< pipeline.parameters.migration_base >>", "deployed", "./migrate.sh && ./deploy.sh", "echo deployed").Replace(string(b))
	var usage struct {
		Jobs map[string]struct{ Steps []any } `yaml:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(text), &usage); err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(api.Close)
	// steps are a job's steps with the orb's commands pointed at the
	// release server and the service on loopback.
	steps := func(job string) []any {
		var out []any
		for _, s := range usage.Jobs[job].Steps {
			if m, ok := s.(map[string]any); ok {
				for k, v := range m {
					if args, ok := v.(map[string]any); ok && strings.HasPrefix(k, "pmguard/") {
						args["base_url"] = h.server.URL
						if k == "pmguard/health_check" {
							args["endpoints"] = api.URL + " 200"
						}
						delete(args, "database_url_env") // the replay on a real server is tested with migrations
						delete(args, "compat_queries")
					}
				}
			}
			out = append(out, s)
		}
		return out
	}

	// The repository: the deployed commit, then the change to deploy.
	repo := h.job.Dir
	gitDo := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(git, args...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	gitDo("init", "-q")
	writeFile(t, filepath.Join(repo, "db", "migrations", "001_users.sql"), "CREATE TABLE users (id bigint PRIMARY KEY, name text);\n")
	gitDo("add", ".")
	gitDo("commit", "-q", "-m", "users")
	deployed := gitDo("rev-parse", "HEAD")
	writeFile(t, filepath.Join(repo, "db", "migrations", "002_email.sql"), "ALTER TABLE users ADD COLUMN email text;\n")
	gitDo("add", ".")
	gitDo("commit", "-q", "-m", "email")

	// The deploy pipeline.
	h.job.Env["CIRCLE_SHA1"] = deployed
	if err := h.job.RunSteps(h.ctx, steps("deploy")...); err != nil {
		t.Fatalf("deploy job: %v\n%s", err, h.job.LastRun().Output)
	}
	if len(h.job.Cache.Entries()) == 0 {
		t.Fatal("the deploy job saved nothing in the cache")
	}

	// A later pipeline on a fresh machine: nothing of the deploy job is
	// left but the cache.
	later := func(cache *orbtest.Cache) (*orbtest.Job, error) {
		if err := os.RemoveAll(scratch); err != nil {
			t.Fatal(err)
		}
		j := orbtest.NewJob(t, h.job.Orb)
		j.Dir = repo
		j.Cache = cache
		j.Env["PMGUARD_INSTALL_RETRY_WAIT"] = "0"
		j.Env["CIRCLE_SHA1"] = gitDo("rev-parse", "HEAD")
		return j, j.RunSteps(h.ctx, steps("check_migrations")...)
	}
	check, err := later(h.job.Cache)
	if err != nil {
		t.Fatalf("check job: %v\n%s", err, check.LastRun().Output)
	}
	if out := check.LastRun().Output; !strings.Contains(out, deployed[:12]) {
		t.Errorf("the check does not name the deployed commit %s:\n%s", deployed, out)
	}
	if _, err := later(orbtest.NewCache(t)); err == nil {
		t.Error("without the cache the check found a deployed commit")
	}
}

// TestHoldApprovalExampleRecordsThePromotion runs the guarded canary of
// canary_shadow_hold_approval.yml and its promote job, with the circleci
// CLI's stand-in on PATH: a canary held for approval leaves the release
// RUNNING (not SUCCESS before anything was promoted, not RUNNING for
// ever), and the promote job, with the canary job's event log attached,
// marks it SUCCESS.
func TestHoldApprovalExampleRecordsThePromotion(t *testing.T) {
	h := newHarness(t)
	scratch := t.TempDir() // the workspace: the orb's /tmp/pmguard
	d := h.job.Orb.Commands["canary_check"]
	d.Parameters["events_file"].Default = filepath.Join(scratch, "events.jsonl")
	d.Parameters["junit_path"].Default = filepath.Join(scratch, "canary", "junit.xml")
	d.Parameters["report_path"].Default = filepath.Join(scratch, "canary", "report.json")
	b, err := yaml.Marshal(h.job.Orb.Examples["canary_shadow_hold_approval"].Usage)
	if err != nil {
		t.Fatal(err)
	}
	var usage struct {
		Jobs map[string]struct{ Steps []any } `yaml:"jobs"`
	}
	if err := yaml.Unmarshal([]byte(strings.ReplaceAll(string(b), "/tmp/pmguard", scratch)), &usage); err != nil {
		t.Fatal(err)
	}
	// Too little traffic for a verdict by max_duration: held.
	canary := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(canary.Close)
	steps := func(job string) []any {
		var out []any
		for _, s := range usage.Jobs[job].Steps {
			if name, ok := s.(string); ok && strings.HasPrefix(name, "pmguard/") {
				s = map[string]any{name: map[string]any{}} // - pmguard/install
			}
			if m, ok := s.(map[string]any); ok {
				for k, v := range m {
					if args, ok := v.(map[string]any); ok && strings.HasPrefix(k, "pmguard/") {
						args["base_url"] = h.server.URL
						if k == "pmguard/canary_check" {
							args["url"], args["rate"], args["max_duration"], args["timeout"] = canary.URL, "20", "1s", "500ms"
							delete(args, "slack_channel") // notices are tested with the Slack stand-in
						}
					}
				}
			}
			out = append(out, s)
		}
		return out
	}
	cli := markertest.Install(t)
	job := func(j *orbtest.Job, name string) {
		writeFile(t, filepath.Join(j.Dir, "deploy.sh"), "#!/bin/sh\necho deploy \"$@\"\n")
		writeFile(t, filepath.Join(j.Dir, "shift.sh"), "#!/bin/sh\necho \"routed $1%\"\n")
		for _, f := range []string{"deploy.sh", "shift.sh"} {
			if err := os.Chmod(filepath.Join(j.Dir, f), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		j.Env["PATH"] = cli.Dir + ":" + os.Getenv("PATH")
		j.Env["PMGUARD_INSTALL_RETRY_WAIT"] = "0"
		j.Env["CIRCLE_JOB"], j.Env["CIRCLE_SHA1"] = name, "4f2c9a1d8e7b6c5a4f3e2d1c0b9a8f7e6d5c4b3a"
		j.Env["CIRCLE_BUILD_URL"] = "https://circleci.com/gh/acme/api/" + name
		if err := j.RunSteps(h.ctx, steps(name)...); err != nil {
			t.Fatalf("%s job: %v\n%s", name, err, j.LastRun().Output)
		}
	}
	job(h.job, "canary")
	if got := strings.Join(cli.Statuses(t), " "); got != "RUNNING" {
		t.Fatalf("after the held canary the release got %q, want it left RUNNING for the approval\n%s", got, h.job.LastRun().Output)
	}
	// After the approval: another job, on another machine but for the
	// workspace.
	job(orbtest.NewJob(t, h.job.Orb), "promote")
	if got := strings.Join(cli.Statuses(t), " "); got != "RUNNING SUCCESS" {
		t.Errorf("marker updates %q, want RUNNING, then SUCCESS from the promote job", got)
	}
}
