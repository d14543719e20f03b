package dora

import (
	"bytes"
	"context"
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
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/dorastore"
	"github.com/pmguard/pmguard/internal/httpx"
)

const (
	slug  = "gh/acme/shop"
	token = "cci-dora-token-0123456789"
)

// seedSynthetic puts the synthetic history into the stand-in, each deploy a
// pipeline whose deploy workflow ran 5 minutes, plus a build-only pipeline
// and a pipeline on another branch that must not count. It returns the
// stand-in's pipeline ids by deploy name, and the git repository.
func seedSynthetic(t *testing.T, s *circlecitest.Server) (map[string]string, string) {
	t.Helper()
	s.AddProject(slug)
	dir, hashes := syntheticRepo(t)
	ids := map[string]string{}
	for _, d := range syntheticDeploys() {
		timeline := fake.Ends(5*time.Minute, "success")
		switch d.Status {
		case "failed":
			timeline = fake.Ends(5*time.Minute, "failed")
		case "canceled":
			timeline = []fake.Step{{After: 0, Status: "running"}, {After: 5 * time.Minute, Status: "canceled"}}
		}
		seed := fake.PipelineSeed{Branch: "main", Revision: hashes[d.Revision], CreatedAt: d.Created,
			Workflows: []fake.WorkflowSeed{{Name: "build"}, {Name: "deploy-production", Timeline: timeline}}}
		if d.Rollback {
			seed.TriggerType = "api"
			seed.Params = map[string]any{"pmguard_rollback": true, "pmguard_rollback_of": ids[d.RollbackOf]}
		}
		ids[d.PipelineID] = s.AddPipeline(slug, seed).ID
		if d.PipelineID == "D5" {
			s.AddPipeline(slug, fake.PipelineSeed{Branch: "main", CreatedAt: d.Created.Add(time.Hour), Workflows: []fake.WorkflowSeed{{Name: "build"}}})
			s.AddPipeline(slug, fake.PipelineSeed{Branch: "feature/x", CreatedAt: d.Created.Add(2 * time.Hour), Workflows: []fake.WorkflowSeed{{Name: "deploy-production"}}})
		}
	}
	return ids, dir
}

func syntheticRepo(t *testing.T) (string, map[string]string) {
	order := []struct{ name, authored string }{{"c0", "2026-10-30 12:00"}}
	for _, c := range syntheticCommits {
		if !strings.HasPrefix(c.commit, "c9") {
			order = append(order, struct{ name, authored string }{c.commit, c.authored})
		}
		if c.commit == "c8" {
			for _, x := range syntheticCommits {
				if strings.HasPrefix(x.commit, "c9") {
					order = append(order, struct{ name, authored string }{x.commit, x.authored})
				}
			}
		}
	}
	return gitRepo(t, order)
}

func runSynthetic(t *testing.T, concurrency int, pageSize int) (*Figures, string, string) {
	t.Helper()
	s := circlecitest.New(t, fake.Options{Token: token, PageSize: pageSize, Now: func() time.Time { return ts("2026-11-16 00:00") }})
	ids, dir := seedSynthetic(t, s)
	evFile := filepath.Join(t.TempDir(), "events.jsonl")
	ev := `{"time":"2026-11-03T10:05:00Z","verb":"canary","event":"canary_failed","pipeline_id":"` + ids["D2"] + `","figures":{"error_rate":0.2}}` + "\n"
	if err := os.WriteFile(evFile, []byte(ev), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	var stdout bytes.Buffer
	o := &Options{Project: slug, Branch: "main", Workflows: []string{"deploy-*"}, Window: 14 * 24 * time.Hour,
		GitDir: dir, EventFile: []string{evFile}, JSON: filepath.Join(out, "dora.json"), Markdown: filepath.Join(out, "dora.md"),
		HTML: filepath.Join(out, "dora.html"), Concurrency: concurrency, CircleCI: s.Client(t),
		Now: func() time.Time { return ts("2026-11-16 00:00") }, Stdout: &stdout}
	r, err := o.measure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return r, out, stdout.String()
}

// The synthetic history served by the stand-in gives the hand-computed
// answers of TestSyntheticHistory, sequentially and concurrently, with
// pages of three pipelines so the walk streams across many pages.
func TestStandinSynthetic(t *testing.T) {
	for _, c := range []struct{ concurrency, pageSize int }{{1, 3}, {8, 3}, {8, 0}} {
		r, out, stdout := runSynthetic(t, c.concurrency, c.pageSize)
		// The token reaches nothing the user or an artifact shows.
		if strings.Contains(stdout, token) {
			t.Errorf("stdout holds the CircleCI token")
		}
		for _, f := range []string{"dora.json", "dora.md", "dora.html"} {
			if b, _ := os.ReadFile(filepath.Join(out, f)); strings.Contains(string(b), token) {
				t.Errorf("%s holds the CircleCI token", f)
			}
		}
		if r.Frequency.Deploys != 12 || r.Frequency.DeploymentDays != 8 || r.Frequency.Band != High {
			t.Errorf("concurrency %d: frequency %+v", c.concurrency, r.Frequency)
		}
		if r.ChangeFailRate.Count != 4 || r.Rework.Count != 4 || r.Recovery.Median != 75*time.Minute {
			t.Errorf("concurrency %d: fail %+v rework %+v recovery %+v", c.concurrency, r.ChangeFailRate, r.Rework, r.Recovery)
		}
		if r.LeadTime.Changes != 13 || r.LeadTime.Median != time.Hour || r.LeadTime.P90 != 91*time.Hour {
			t.Errorf("concurrency %d: lead time %+v (notes %v)", c.concurrency, r.LeadTime, r.Notes)
		}
		if r.CIRecovery == nil || r.CIRecovery.MTTR != 24*time.Hour {
			// The one failed run (D4, Wed 09:00) is followed by D5 (Thu 09:00).
			t.Errorf("CI recovery = %+v, want 24h", r.CIRecovery)
		}
		for _, f := range []string{"dora.json", "dora.md", "dora.html"} {
			if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
				t.Errorf("%s not written: %v", f, err)
			}
		}
		md, _ := os.ReadFile(filepath.Join(out, "dora.md"))
		for _, want := range []string{"| Deployment frequency |", "| Change lead time |", "| Change fail rate |", "| Failed deployment recovery time |", "| Deployment rework rate |", "xychart-beta", "CI recovery", "not DORA's failed deployment recovery time"} {
			if !strings.Contains(string(md), want) {
				t.Errorf("dora.md lacks %q", want)
			}
		}
	}
}

// fastHTTP is pmguard's policy with millisecond backoff, its pause and
// retry lines collected.
func fastHTTP(log *lines) *httpx.Client {
	return httpx.New(httpx.Options{Retries: 3, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond, Log: log.add})
}

type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) add(s string) { l.mu.Lock(); l.l = append(l.l, s); l.mu.Unlock() }

func (l *lines) String() string { l.mu.Lock(); defer l.mu.Unlock(); return strings.Join(l.l, "\n") }

func standinClient(t *testing.T, s *circlecitest.Server, hc *httpx.Client) *circleci.Client {
	t.Helper()
	c, err := circleci.New(circleci.Options{Host: s.URL(), Token: s.Token(), HTTP: hc})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// syncSynthetic syncs the synthetic history's window into a fresh store
// and returns the deploy runs stored.
func syncSynthetic(t *testing.T, ctx context.Context, c *circleci.Client, maxPages int) ([]Deploy, error) {
	t.Helper()
	st, err := dorastore.OpenSQLite(ctx, ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tg := target{Project: slug, Branch: "main", Workflows: []string{"deploy-production"}, Start: ts("2026-11-02 00:00")}
	_, err = syncHistory(ctx, c, st, syncOptions{Targets: []target{tg}, Now: ts("2026-11-16 00:00"), Concurrency: 4, MaxPages: maxPages})
	runs, rerr := st.Runs(ctx, slug, "main", time.Time{})
	if rerr != nil {
		t.Fatal(rerr)
	}
	return deploys(runs, tg.Workflows), err
}

// A 429 pauses every worker's requests to CircleCI for the server's
// Retry-After (httpx's shared per-host pause, capped at httpx.MaxRetryAfter),
// once, and the history is still read whole.
func TestRateLimitPausesEveryWorker(t *testing.T) {
	s := circlecitest.New(t, fake.Options{Token: token, PageSize: 3, Now: func() time.Time { return ts("2026-11-16 00:00") }})
	seedSynthetic(t, s)
	s.Inject(fake.Fault{Method: "GET", Path: "/pipeline/", Status: 429, RetryAfter: "1", Times: 1})
	var log lines
	hc := fastHTTP(&log)
	ds, err := syncSynthetic(t, context.Background(), standinClient(t, s, hc), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != len(syntheticDeploys()) {
		t.Errorf("read %d deploy runs, want %d", len(ds), len(syntheticDeploys()))
	}
	if hc.Paused() != 1 {
		t.Errorf("paused %d times, want 1", hc.Paused())
	}
	if !strings.Contains(log.String(), "pausing its requests for 1s") {
		t.Errorf("the pause did not follow the server's Retry-After:\n%s", log.String())
	}
}

// A Retry-After that would end past the run's deadline is not waited out:
// the walk ends at once with CircleCI's rate-limit error, not a timeout.
func TestRetryAfterPastTheDeadlineEndsTheRun(t *testing.T) {
	s := circlecitest.New(t, fake.Options{Token: token, PageSize: 3, Now: func() time.Time { return ts("2026-11-16 00:00") }})
	seedSynthetic(t, s)
	s.Inject(fake.Fault{Method: "GET", Path: "/pipeline/", Status: 429, RetryAfter: "3600", Times: 1000})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var log lines
	_, err := syncSynthetic(t, ctx, standinClient(t, s, fastHTTP(&log)), 0)
	if ctx.Err() != nil {
		t.Fatalf("the run waited until its deadline: %v", err)
	}
	if circleci.StatusOf(err) != http.StatusTooManyRequests || !strings.Contains(err.Error(), "rate limited") {
		t.Fatalf("error %v, want CircleCI's 429", err)
	}
}

// pageServer answers every pipeline page with one pipeline in the window
// and a next_page_token: the same one when repeat is set, a new one
// otherwise. Pipelines have no workflows.
func pageServer(t *testing.T, repeat bool) (*circleci.Client, *atomic.Int64) {
	var pages atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/workflow") {
			fmt.Fprint(w, `{"items":[],"next_page_token":null}`)
			return
		}
		n := pages.Add(1)
		next := "again"
		if !repeat {
			next = fmt.Sprintf("p%d", n)
		}
		fmt.Fprintf(w, `{"items":[{"id":"id-%d","number":%d,"project_slug":%q,"state":"created","created_at":"2026-11-10T00:00:00Z","trigger":{"type":"webhook","received_at":"2026-11-10T00:00:00Z","actor":{"login":"x","avatar_url":null}},"updated_at":"2026-11-10T00:00:00Z"}],"next_page_token":%q}`, n, n, slug, next)
	}))
	t.Cleanup(srv.Close)
	c, err := circleci.New(circleci.Options{Host: srv.URL, Token: token, HTTP: fastHTTP(&lines{})})
	if err != nil {
		t.Fatal(err)
	}
	return c, &pages
}

// A page walk that never ends (a repeated next_page_token, or an endless
// run of new ones) stops with an error naming the pages, not a hang.
func TestPageWalkIsBounded(t *testing.T) {
	for _, repeat := range []bool{true, false} {
		c, pages := pageServer(t, repeat)
		_, err := syncSynthetic(t, context.Background(), c, 40)
		if err == nil || !strings.Contains(err.Error(), "page") {
			t.Errorf("repeat %v: error %v, want one about the pages", repeat, err)
		}
		if n := pages.Load(); n > 41 {
			t.Errorf("repeat %v: read %d pages past the bound of 40", repeat, n)
		}
	}
}
