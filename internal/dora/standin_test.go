package dora

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
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
		timeline := fake.Succeeds(5 * time.Minute)
		switch d.Status {
		case "failed":
			timeline = fake.Fails(5 * time.Minute)
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

func runSynthetic(t *testing.T, concurrency int, pageSize int) (*Report, string, string) {
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
	r, err := Run(context.Background(), Options{Project: slug, Branch: "main", Workflows: []string{"deploy-*"}, Window: 14 * 24 * time.Hour,
		GitDir: dir, EventFile: []string{evFile}, JSON: filepath.Join(out, "dora.json"), Markdown: filepath.Join(out, "dora.md"),
		HTML: filepath.Join(out, "dora.html"), Concurrency: concurrency, CircleCI: s.Client(t),
		Now: func() time.Time { return ts("2026-11-16 00:00") }, Stdout: &stdout})
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

// A 429 pauses every request for its Retry-After, once, and the history is
// still read whole.
func TestThrottleOn429(t *testing.T) {
	s := circlecitest.New(t, fake.Options{Token: token, PageSize: 3, Now: func() time.Time { return ts("2026-11-16 00:00") }})
	seedSynthetic(t, s)
	s.Inject(fake.Fault{Method: "GET", Path: "/pipeline/", Status: 429, RetryAfter: "7", Times: 1})
	var mu sync.Mutex
	var waits []time.Duration
	th := &Throttle{Next: httpx.NewTransport(nil), Sleep: func(_ context.Context, d time.Duration) error {
		mu.Lock()
		waits = append(waits, d)
		mu.Unlock()
		return nil
	}}
	hc := httpx.New(httpx.Options{Retries: 3, WaitMin: time.Millisecond, WaitMax: 5 * time.Millisecond, Transport: th})
	c, err := circleci.New(circleci.Options{Host: s.URL(), Token: s.Token(), HTTP: hc})
	if err != nil {
		t.Fatal(err)
	}
	h, err := fetchHistory(context.Background(), c, fetchOptions{Slug: slug, Branch: "main", Workflows: []string{"deploy-production"},
		Start: ts("2026-11-02 00:00"), End: ts("2026-11-16 00:00"), Concurrency: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Deploys) != len(syntheticDeploys()) {
		t.Errorf("read %d deploy runs, want %d", len(h.Deploys), len(syntheticDeploys()))
	}
	if th.Paused() != 1 {
		t.Errorf("paused %d times, want 1", th.Paused())
	}
	long := 0
	for _, w := range waits {
		if w > 5*time.Second && w <= 7*time.Second {
			long++
		}
	}
	if long == 0 {
		t.Errorf("no request waited out the 7 s Retry-After: %v", waits)
	}
}

// MaxRPS spaces requests: with a fake clock that does not advance, the
// n-th request waits n/MaxRPS.
func TestThrottleMaxRPS(t *testing.T) {
	now := ts("2026-11-16 00:00")
	var waits []time.Duration
	th := &Throttle{MaxRPS: 10, Now: func() time.Time { return now }, Sleep: func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}, Next: roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: http.NoBody, Header: http.Header{}}, nil
	})}
	for i := 0; i < 3; i++ {
		req, _ := http.NewRequest("GET", "http://x/", nil)
		if _, err := th.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond}
	if len(waits) != 2 || waits[0] != want[0] || waits[1] != want[1] {
		t.Errorf("waits = %v, want %v", waits, want)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
