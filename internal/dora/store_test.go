package dora

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/pgtest"
)

// storeKinds runs f against the embedded store and a real PostgreSQL
// server (one server per test, one database per subtest).
func storeKinds(t *testing.T, f func(t *testing.T, configure func(o *Options))) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "dora.db")
		f(t, func(o *Options) { o.StorePath = path })
	})
	t.Run("postgres", func(t *testing.T) {
		conn, url := pgtest.Connect(t)
		ctx := context.Background()
		if _, err := conn.Exec(ctx, "CREATE DATABASE dora_store"); err != nil {
			t.Fatal(err)
		}
		dbURL := strings.Replace(url, "/postgres?", "/dora_store?", 1)
		f(t, func(o *Options) { o.DatabaseURL = dbURL })
	})
}

// clock is the test's time, shared by the stand-in and pmguard.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// counter counts the requests pmguard sends, by kind, and can cut the
// connection (the process dying) once it has sent a number of them.
type counter struct {
	lists, orgLists, workflows atomic.Int64
	killAfter                  atomic.Int64 // 0: never
	sent                       atomic.Int64
	kill                       context.CancelFunc
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	n := c.sent.Add(1)
	if k := c.killAfter.Load(); k > 0 && n >= k && c.kill != nil {
		c.kill()
	}
	switch {
	case strings.HasSuffix(r.URL.Path, "/workflow"):
		c.workflows.Add(1)
	case strings.HasSuffix(r.URL.Path, "/api/v2/pipeline"):
		c.orgLists.Add(1)
	case strings.HasSuffix(r.URL.Path, "/pipeline"):
		c.lists.Add(1)
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *counter) reset() {
	c.lists.Store(0)
	c.orgLists.Store(0)
	c.workflows.Store(0)
	c.sent.Store(0)
}

// seedProject adds n pipelines on branch, one every 6 hours ending at end:
// a build workflow and the deploy workflow, each 10th deploy failing.
func seedProject(s *circlecitest.Server, project, branch, deploy string, n int, end time.Time) {
	if s.Project(project) == nil {
		s.AddProject(project)
	}
	for i := range n {
		status := "success"
		if i%10 == 9 {
			status = "failed"
		}
		created := end.Add(-time.Duration(n-i) * 6 * time.Hour)
		s.AddPipeline(project, fake.PipelineSeed{Branch: branch, Revision: fmt.Sprintf("%040x", i+1), CreatedAt: created,
			Workflows: []fake.WorkflowSeed{{Name: "build", Timeline: fake.Ends(2*time.Minute, "success")}, {Name: deploy, Timeline: fake.Ends(5*time.Minute, status)}}})
	}
}

type harness struct {
	s     *circlecitest.Server
	clk   *clock
	count *counter
}

func newHarness(t *testing.T, now time.Time) *harness {
	clk := &clock{t: now}
	s := circlecitest.New(t, fake.Options{Token: token, Now: clk.Now})
	return &harness{s: s, clk: clk, count: &counter{}}
}

// run runs pmguard dora once, as a job would, and returns its report.
func (h *harness) run(t *testing.T, ctx context.Context, configure func(*Options), more func(*Options)) (*Options, error) {
	t.Helper()
	hc := httpx.New(httpx.Options{Retries: 2, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond, Transport: h.count})
	c, err := circleci.New(circleci.Options{Host: h.s.URL(), Token: token, HTTP: hc})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	o := &Options{Project: slug, Branch: "main", Workflows: []string{"deploy"}, Window: 30 * 24 * time.Hour, Months: 3,
		Overlap: 24 * time.Hour, Concurrency: 4, CircleCI: c, Now: h.clk.Now, Stdout: &out, Stderr: &out}
	configure(o)
	if more != nil {
		more(o)
	}
	_, err = o.measure(ctx)
	return o, err
}

// figures is what a report says, for comparing runs.
func figures(o *Options) string {
	var b strings.Builder
	for _, u := range o.Report.Units {
		fmt.Fprintf(&b, "%s %s: %+v\n", u.Kind, u.Name, u.Window)
		for _, m := range u.Months {
			fmt.Fprintf(&b, "  %+v\n", m)
		}
	}
	return b.String()
}

// A second sync reads only what is new: the first page of the list (the
// overlap with the last sync lies on it) and the workflows of the new
// pipelines alone; the figures are those of a full read.
func TestIncrementalSync(t *testing.T) {
	storeKinds(t, func(t *testing.T, configure func(*Options)) {
		now := ts("2026-11-16 00:00")
		h := newHarness(t, now)
		seedProject(h.s, slug, "main", "deploy", 100, now) // 25 days, 5 pages
		ctx := context.Background()
		o, err := h.run(t, ctx, configure, nil)
		if err != nil {
			t.Fatal(err)
		}
		first := h.count.workflows.Load()
		if first < 100 || h.count.lists.Load() < 5 {
			t.Fatalf("first sync fetched %d workflows in %d pages", first, h.count.lists.Load())
		}
		if o.Report.Units[0].Window.Deploys != 100 {
			t.Errorf("window deploys %d, want 100", o.Report.Units[0].Window.Deploys)
		}
		// A day later: 4 new pipelines.
		h.clk.Set(now.Add(24 * time.Hour))
		seedProject(h.s, slug, "main", "deploy", 4, now.Add(24*time.Hour))
		h.count.reset()
		o2, err := h.run(t, ctx, configure, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.count.workflows.Load(); got != 4 {
			t.Errorf("incremental sync fetched the workflows of %d pipelines, want the 4 new ones", got)
		}
		if got := h.count.lists.Load(); got > 1 {
			t.Errorf("incremental sync read %d pipeline pages, want 1 (the new pipelines and the overlap)", got)
		}
		// A fresh store reading everything agrees with the incremental one.
		h.count.reset()
		full, err := h.run(t, ctx, func(o *Options) { o.StorePath = filepath.Join(t.TempDir(), "fresh.db") }, nil)
		if err != nil {
			t.Fatal(err)
		}
		if figures(o2) != figures(full) {
			t.Errorf("incremental figures differ from a full read:\n%s\nfull:\n%s", figures(o2), figures(full))
		}
	})
}

// A sync that dies part way (the connection cut, the run cancelled: what a
// killed job leaves) keeps every pipeline it stored whole; the rerun reads
// only what is missing and reports exactly what a clean sync does.
func TestCrashMidSync(t *testing.T) {
	storeKinds(t, func(t *testing.T, configure func(*Options)) {
		now := ts("2026-11-16 00:00")
		h := newHarness(t, now)
		seedProject(h.s, slug, "main", "deploy", 100, now)
		ctx, kill := context.WithCancel(context.Background())
		h.count.kill = kill
		h.count.killAfter.Store(60)
		if _, err := h.run(t, ctx, configure, nil); err == nil {
			t.Fatal("the killed sync reported success")
		} else {
			t.Logf("killed: %v", err)
		}
		h.count.killAfter.Store(0)
		h.count.reset()
		o, err := h.run(t, context.Background(), configure, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := h.count.workflows.Load(); got >= 100 {
			t.Errorf("the rerun fetched %d pipelines' workflows again: nothing kept from the killed sync", got)
		}
		clean, err := h.run(t, context.Background(), func(o *Options) { o.StorePath = filepath.Join(t.TempDir(), "clean.db") }, nil)
		if err != nil {
			t.Fatal(err)
		}
		if figures(o) != figures(clean) {
			t.Errorf("figures after the crash differ from a clean sync:\n%s\nclean:\n%s", figures(o), figures(clean))
		}
		// Running again changes nothing: nothing is counted twice.
		again, err := h.run(t, context.Background(), configure, nil)
		if err != nil {
			t.Fatal(err)
		}
		if figures(again) != figures(clean) {
			t.Errorf("a third run changed the figures:\n%s", figures(again))
		}
	})
}

// An organisation of projects with different deploy workflows and
// branches, teams from the projects file, targets and a guard first used
// part way: each project, team and the organisation is reported, and the
// daily sync reads the organisation's list instead of every project's.
func TestOrganisation(t *testing.T) {
	storeKinds(t, func(t *testing.T, configure func(*Options)) {
		now := ts("2026-11-16 00:00")
		h := newHarness(t, now)
		seedProject(h.s, "gh/acme/shop", "main", "deploy-production", 120, now)
		seedProject(h.s, "gh/acme/api", "production", "release", 80, now)
		seedProject(h.s, "gh/acme/api", "main", "release", 10, now) // not the production branch
		seedProject(h.s, "gh/acme/web", "main", "ship", 40, now)
		seedProject(h.s, "gh/other/x", "main", "deploy", 10, now) // another organisation
		dir := t.TempDir()
		rules := filepath.Join(dir, "projects.yml")
		os.WriteFile(rules, []byte(`defaults: {branch: main}
projects:
  gh/acme/shop: {deploy_workflow: "deploy-*", team: payments}
  gh/acme/api: {deploy_workflow: release, branch: production, team: platform}
  gh/acme/*: {deploy_workflow: ship, team: platform}
`), 0o644)
		evFile := filepath.Join(dir, "events.jsonl")
		canaryFrom := now.Add(-15 * 24 * time.Hour)
		os.WriteFile(evFile, []byte(`{"time":"`+canaryFrom.Format(time.RFC3339)+`","verb":"canary","event":"canary_started","project":"gh/acme/shop"}`+"\n"), 0o644)
		r, err := ReadRules(rules)
		if err != nil {
			t.Fatal(err)
		}
		targets, _ := ParseTargets("deploy_frequency: 10/day, lead_time: 1h, recovery_time: 15m, change_fail_rate: 5%")
		org := func(o *Options) {
			o.Project, o.Org, o.Rules, o.Targets, o.EventFile = "", "gh/acme", r, targets, []string{evFile}
			o.HTML, o.Markdown, o.JSON = filepath.Join(dir, "dora.html"), filepath.Join(dir, "dora.md"), filepath.Join(dir, "dora.json")
		}
		o, err := h.run(t, context.Background(), configure, org)
		if err != nil {
			t.Fatal(err)
		}
		units := map[string]*Unit{}
		for _, u := range o.Report.Units {
			units[u.Kind+" "+u.Name] = u
		}
		want := map[string]int{"project gh/acme/shop": 120, "project gh/acme/api": 80, "project gh/acme/web": 40,
			"team payments": 120, "team platform": 120, "organisation gh/acme": 240}
		for k, n := range want {
			u := units[k]
			if u == nil {
				t.Errorf("no report for %s (have %v)", k, o.Report.Units)
				continue
			}
			// 6-hourly pipelines: every one is inside the 3 months.
			got := 0
			for _, m := range u.Months {
				got += m.Deploys
			}
			if got != n {
				t.Errorf("%s: %d deploys over the months, want %d", k, got, n)
			}
		}
		if units["project gh/other/x"] != nil {
			t.Errorf("a project of another organisation was reported")
		}
		orgU := units["organisation gh/acme"]
		if len(orgU.Targets) != 4 || orgU.Targets[0].Target != "10/day" || orgU.Targets[0].Met || !strings.Contains(orgU.Targets[0].Gap, "/day short") {
			t.Errorf("targets %+v", orgU.Targets)
		}
		if cfr := orgU.Targets[3]; cfr.Current != "10%" || cfr.Gap != "5 points over" {
			t.Errorf("change fail rate against target: %+v", cfr)
		}
		shop := units["project gh/acme/shop"]
		if len(shop.Guards) != 1 || shop.Guards[0].Guard != "canary analysis" || shop.Guards[0].Before.Deploys == 0 ||
			shop.Guards[0].After.Deploys != 60 || !strings.Contains(shop.Guards[0].Reading, "not that the guard caused it") {
			t.Errorf("before/after %+v", shop.Guards)
		}
		for _, f := range []string{"dora.html", "dora.md", "dora.json"} {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil || !strings.Contains(string(b), "gh/acme/api") || !strings.Contains(string(b), "payments") {
				t.Errorf("%s: %v", f, err)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "dora.html")); !strings.Contains(string(b), "<svg") || !strings.Contains(string(b), "10/day") {
			t.Errorf("dora.html lacks the monthly chart or the targets")
		}
		// The next day: the organisation's list alone brings every project up
		// to date.
		h.clk.Set(now.Add(24 * time.Hour))
		seedProject(h.s, "gh/acme/web", "main", "ship", 2, now.Add(24*time.Hour))
		h.count.reset()
		if _, err := h.run(t, context.Background(), configure, org); err != nil {
			t.Fatal(err)
		}
		if h.count.lists.Load() != 0 || h.count.orgLists.Load() > 2 || h.count.workflows.Load() != 2 {
			t.Errorf("daily sync: %d project pages, %d organisation pages, %d workflow fetches; want 0, at most 2, 2",
				h.count.lists.Load(), h.count.orgLists.Load(), h.count.workflows.Load())
		}
	})
}

// An overlap longer than the history (a typo such as 1000d) reads again
// only what the history covers: nothing from before its start is listed
// or fetched on the next run.
func TestOverlapStopsAtTheHistoryStart(t *testing.T) {
	now := ts("2026-11-16 00:00")
	h := newHarness(t, now)
	old := now.AddDate(0, -6, 0) // before the 3 months the history keeps
	seedProject(h.s, slug, "main", "deploy", 200, old)
	seedProject(h.s, slug, "main", "deploy", 100, now)
	path := filepath.Join(t.TempDir(), "dora.db")
	configure := func(o *Options) { o.StorePath = path }
	ctx := context.Background()
	if _, err := h.run(t, ctx, configure, nil); err != nil {
		t.Fatal(err)
	}
	firstLists := h.count.lists.Load()
	h.clk.Set(now.Add(24 * time.Hour))
	seedProject(h.s, slug, "main", "deploy", 4, now.Add(24*time.Hour))
	h.count.reset()
	if _, err := h.run(t, ctx, configure, func(o *Options) { o.Overlap = 1000 * 24 * time.Hour }); err != nil {
		t.Fatal(err)
	}
	if got := h.count.workflows.Load(); got != 4 {
		t.Errorf("the rerun fetched the workflows of %d pipelines, want the 4 new ones", got)
	}
	if got := h.count.lists.Load(); got > firstLists {
		t.Errorf("the rerun read %d pipeline pages, more than the first sync's %d", got, firstLists)
	}
}

// In organisation scope too, a long overlap (1000d) does not walk the
// organisation's whole pipeline list: the walk stops at maxOrgWalk.
func TestOrganisationOverlapBounded(t *testing.T) {
	now := ts("2026-11-16 00:00")
	h := newHarness(t, now)
	seedProject(h.s, "gh/acme/shop", "main", "deploy", 300, now) // 75 days
	seedProject(h.s, "gh/acme/web", "main", "deploy", 300, now)
	path := filepath.Join(t.TempDir(), "dora.db")
	configure := func(o *Options) { o.StorePath = path }
	org := func(o *Options) { o.Project, o.Org, o.Rules = "", "gh/acme", &Rules{} }
	if _, err := h.run(t, context.Background(), configure, org); err != nil {
		t.Fatal(err)
	}
	h.clk.Set(now.Add(24 * time.Hour))
	seedProject(h.s, "gh/acme/web", "main", "deploy", 2, now.Add(24*time.Hour))
	h.count.reset()
	if _, err := h.run(t, context.Background(), configure, func(o *Options) { org(o); o.Overlap = 1000 * 24 * time.Hour }); err != nil {
		t.Fatal(err)
	}
	// A week of two projects' 6-hourly pipelines is 56, 3 pages of 20.
	if got := h.count.orgLists.Load(); got > 4 {
		t.Errorf("the daily sync read %d pages of the organisation's list, want at most a week's", got)
	}
}
