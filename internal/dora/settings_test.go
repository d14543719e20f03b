package dora

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

func baseEnv(t *testing.T) map[string]string {
	return map[string]string{"CIRCLE_TOKEN": token, "PMGUARD_DORA_PROJECT_SLUG": slug, "PMGUARD_DORA_GIT_DIR": t.TempDir()}
}

// Every bad setting is found by New, named by its flag and env var.
func TestNewRejects(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"window in words", map[string]string{"PMGUARD_DORA_WINDOW": "a month"}, []string{"--window", "PMGUARD_DORA_WINDOW", "30d"}},
		{"zero window", map[string]string{"PMGUARD_DORA_WINDOW": "0d"}, []string{"--window", "more than 0"}},
		{"no token", map[string]string{"CIRCLE_TOKEN": " "}, []string{"PMGUARD_DORA_TOKEN_ENV", "$CIRCLE_TOKEN is empty"}},
		{"bad slug", map[string]string{"PMGUARD_DORA_PROJECT_SLUG": "acme/shop"}, []string{"PMGUARD_DORA_PROJECT_SLUG", "vcs/org/repo"}},
		{"zero concurrency", map[string]string{"PMGUARD_DORA_CONCURRENCY": "0"}, []string{"PMGUARD_DORA_CONCURRENCY", "at least 1"}},
		{"missing git dir", map[string]string{"PMGUARD_DORA_GIT_DIR": "/nonexistent/dir"}, []string{"PMGUARD_DORA_GIT_DIR", "not a directory", "accepted: the directory of a git clone"}},
		{"missing event log", map[string]string{"PMGUARD_DORA_EVENT_LOGS": "/nonexistent/events.jsonl"}, []string{"PMGUARD_DORA_EVENT_LOGS", "/nonexistent/events.jsonl", "accepted: an event log file, or a directory of *.jsonl files"}},
		{"bad host", map[string]string{"PMGUARD_CIRCLECI_HOST": "circleci.example.com"}, []string{"--circleci-host", "PMGUARD_CIRCLECI_HOST"}},
		{"deploy workflow glob", map[string]string{"PMGUARD_DORA_DEPLOY_WORKFLOW": "deploy-*,["},
			[]string{"invalid deploy_workflow", `"["`, "--deploy-workflow", "PMGUARD_DORA_DEPLOY_WORKFLOW", "not a valid glob"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := baseEnv(t)
			for k, v := range c.env {
				env[k] = v
			}
			_, err := New(context.Background(), verbtest.Deps(env, nil, nil), nil)
			var ie *config.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("error %v (%T), want an input error", err, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A projects file's deploy_workflow globs are checked like the setting's.
func TestNewRejectsProjectsFileWorkflowGlob(t *testing.T) {
	for name, rules := range map[string]string{
		"defaults": "defaults: {deploy_workflow: \"deploy-[\"}\n",
		"project":  "projects:\n  gh/acme/shop: {deploy_workflow: \"deploy-*, release-[\"}\n",
	} {
		t.Run(name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "projects.yml")
			if err := os.WriteFile(file, []byte(rules), 0o644); err != nil {
				t.Fatal(err)
			}
			env := baseEnv(t)
			env["PMGUARD_DORA_PROJECTS_FILE"] = file
			_, err := New(context.Background(), verbtest.Deps(env, nil, nil), nil)
			var ie *config.InputError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), "PMGUARD_DORA_PROJECTS_FILE") || !strings.Contains(err.Error(), "deploy_workflow") ||
				!strings.Contains(err.Error(), "not a valid glob") {
				t.Fatalf("error %v (%T), want an input error naming the file's deploy_workflow", err, err)
			}
		})
	}
}

// The window takes days and weeks, alone or mixed with a Go duration.
func TestNewWindow(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 30 * 24 * time.Hour, "4w": 28 * 24 * time.Hour, "1d12h": 36 * time.Hour, "72h": 72 * time.Hour} {
		env := baseEnv(t)
		if in != "" {
			env["PMGUARD_DORA_WINDOW"] = in
		}
		o, err := New(context.Background(), verbtest.Deps(env, nil, nil), []string{"--output-dir", t.TempDir()})
		if err != nil || o.Window != want {
			t.Errorf("window %q: %v, %v; want %v", in, o, err, want)
		}
	}
}

// timedTransport records when each request left.
type timedTransport struct {
	mu   sync.Mutex
	sent []time.Time
}

func (tt *timedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	tt.mu.Lock()
	tt.sent = append(tt.sent, time.Now())
	tt.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// The verb built by New reads the stand-in's history whole, keeps the token
// out of every output, and spaces its requests at max_rps (httpx's rate
// limit, one request at a time: n requests take at least (n-1)/max_rps).
func TestNewRun(t *testing.T) {
	s := circlecitest.New(t, fake.Options{Token: token, PageSize: 5, Now: func() time.Time { return ts("2026-11-16 00:00") }})
	_, dir := seedSynthetic(t, s)
	out := t.TempDir()
	env := map[string]string{"CIRCLE_TOKEN": token, "PMGUARD_CIRCLECI_HOST": s.URL(), "PMGUARD_DORA_PROJECT_SLUG": slug,
		"PMGUARD_DORA_GIT_DIR": dir, "PMGUARD_DORA_BRANCH": "main", "PMGUARD_DORA_DEPLOY_WORKFLOW": "deploy-*",
		"PMGUARD_DORA_WINDOW": "2w", "PMGUARD_DORA_OUTPUT_DIR": out, "PMGUARD_DORA_JSON": filepath.Join(out, "dora.json"),
		"PMGUARD_EVENTS_FILE": filepath.Join(out, "events.jsonl"), "PMGUARD_DORA_MAX_RPS": "50", "PMGUARD_DORA_STORE": filepath.Join(out, "dora.db")}
	var stdout strings.Builder
	d := verbtest.Deps(env, &stdout, nil)
	d.Now = func() time.Time { return ts("2026-11-16 00:00") }
	tt := &timedTransport{}
	d.Transport = tt
	o, err := New(context.Background(), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	o.Summary = nil // the stand-in does not serve Insights' summary; Run computes it from the runs
	begin := time.Now()
	if err := Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"dora.json", "dora.md", "dora.html", "events.jsonl"} {
		b, err := os.ReadFile(filepath.Join(out, f))
		if err != nil || len(b) == 0 || strings.Contains(string(b), token) {
			t.Errorf("%s: %v, %d bytes, holds the token: %v", f, err, len(b), strings.Contains(string(b), token))
		}
	}
	if ev, _ := os.ReadFile(filepath.Join(out, "events.jsonl")); !strings.Contains(string(ev), `"event":"dora_computed"`) || !strings.Contains(string(ev), `"deploys":12`) {
		t.Errorf("event log: %s", ev)
	}
	if !strings.Contains(stdout.String(), "12 deploys on 8 of 14 days") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	// Measured from the start of the run, not from the first request's
	// arrival at the transport: that arrival may lag its turn from the
	// limiter on a loaded machine, which shortens the span after it. The
	// first turn comes no earlier than the start and the last one at least
	// (n-1)/max_rps after it.
	n := len(tt.sent)
	if min := time.Duration(n-1) * time.Second / 50; n < 2 || tt.sent[n-1].Sub(begin) < min {
		t.Errorf("%d requests in %v, want at least %v at 50 a second", n, tt.sent[n-1].Sub(begin), min)
	}
}

// The PostgreSQL URL named by database_url_env is a secret: a store that
// cannot be reached fails the run (exit 3) without the password anywhere.
func TestDatabaseURLIsSecret(t *testing.T) {
	s := circlecitest.New(t, fake.Options{Token: token, Now: func() time.Time { return ts("2026-11-16 00:00") }})
	s.AddProject(slug)
	out := t.TempDir()
	const password = "pg-s3cret-passw0rd"
	env := baseEnv(t)
	for k, v := range map[string]string{"PMGUARD_CIRCLECI_HOST": s.URL(), "PMGUARD_DORA_DATABASE_URL_ENV": "DORA_DB",
		"DORA_DB": "postgres://dora:" + password + "@127.0.0.1:1/dora?sslmode=disable&connect_timeout=2", "PMGUARD_DORA_OUTPUT_DIR": out,
		"PMGUARD_EVENTS_FILE": filepath.Join(out, "events.jsonl")} {
		env[k] = v
	}
	var stdout, stderr strings.Builder
	d := verbtest.Deps(env, &stdout, &stderr)
	o, err := New(context.Background(), d, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "DORA store") {
		t.Fatalf("error %v, want the store's", err)
	}
	if all := err.Error() + stdout.String() + stderr.String(); strings.Contains(all, password) {
		t.Errorf("the database password leaked:\n%s", all)
	}
	env["DORA_DB"] = " "
	if _, err := New(context.Background(), verbtest.Deps(env, nil, nil), nil); err == nil || !strings.Contains(err.Error(), "PMGUARD_DORA_DATABASE_URL_ENV") {
		t.Errorf("an empty URL variable: %v", err)
	}
}

// Targets read as a plan writes them; anything else is refused with the form.
func TestTargets(t *testing.T) {
	tg, err := ParseTargets("deploy_frequency: 10/day, lead_time: 1h, recovery_time: 15m, change_fail_rate: 5%")
	if err != nil || tg.PerDay != 10 || tg.LeadTime != time.Hour || tg.Recovery != 15*time.Minute || tg.ChangeFailRate == nil || *tg.ChangeFailRate != 0.05 {
		t.Fatalf("%+v %v", tg, err)
	}
	if w, _ := ParseTargets("deploy_frequency: 14/week"); w.PerDay != 2 {
		t.Errorf("14/week = %v/day", w.PerDay)
	}
	rows := tg.rows(Summary{Deploys: 50, PerDay: 6.2, LeadChanges: 3, LeadMedian: 30 * time.Minute, Recovered: 2, RecoveryMedian: 22 * time.Minute, ChangeFailRate: 0.08})
	want := []string{"Deployment frequency 6.2/day → target 10/day (3.8/day short)", "Change lead time 30 min → target 1 h (met)",
		"Failed deployment recovery time 22 min → target 15 min (7 min over)", "Change fail rate 8% → target 5% (3 points over)"}
	for i, w := range want {
		if i >= len(rows) || rows[i].Line() != w {
			t.Errorf("row %d = %+v, want %q", i, rows, w)
		}
	}
	// A metric given twice (under its name or its alias) has no one goal.
	for _, bad := range []string{"deploy_frequency: often", "mttr: 1h", "lead_time", "change_fail_rate: lots",
		"lead_time: 1h, lead_time: 2h", "lead_time: 1h, change_lead_time: 2h", "rework_rate: 5%, deployment_rework_rate: 10%"} {
		if _, err := ParseTargets(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	env := baseEnv(t)
	env["PMGUARD_DORA_TARGETS"] = "mttr: 1h"
	if _, err := New(context.Background(), verbtest.Deps(env, nil, nil), nil); err == nil || !strings.Contains(err.Error(), "PMGUARD_DORA_TARGETS") || !strings.Contains(err.Error(), "deploy_frequency: 10/day") {
		t.Errorf("bad targets: %v", err)
	}
}
