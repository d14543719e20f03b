package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// deadlineVerbs are dora, postmortem and followups run as the orb jobs run
// them, against base as their one API (CircleCI or GitHub).
func deadlineVerbs(t *testing.T, base string) map[string]map[string]string {
	dir := t.TempDir()
	log := filepath.Join(dir, "in.jsonl")
	os.WriteFile(log, nil, 0o644)
	return map[string]map[string]string{
		"dora": {
			"CIRCLE_TOKEN": "tok-dora-1234", "PMGUARD_CIRCLECI_HOST": base,
			"PMGUARD_DORA_PROJECT_SLUG": "gh/acme/api", "PMGUARD_DORA_BRANCH": "main", "PMGUARD_DORA_GIT_DIR": dir,
			"PMGUARD_DORA_STORE": filepath.Join(dir, "dora.db"), "PMGUARD_DORA_OUTPUT_DIR": filepath.Join(dir, "dora"),
			"PMGUARD_EVENTS_FILE": filepath.Join(dir, "dora.jsonl"),
		},
		"postmortem": {
			"CIRCLE_TOKEN": "tok-pm-1234", "PMGUARD_CIRCLECI_HOST": base,
			"PMGUARD_POSTMORTEM_EVENT_LOGS": log, "PMGUARD_POSTMORTEM_INCIDENT_FILE": "",
			"PMGUARD_POSTMORTEM_FAILED_PIPELINE": "11111111-1111-1111-1111-111111111111",
			"PMGUARD_POSTMORTEM_OUTPUT_DIR":      filepath.Join(dir, "postmortem"),
			"PMGUARD_EVENTS_FILE":                filepath.Join(dir, "postmortem.jsonl"),
		},
		"followups": {
			"GITHUB_TOKEN": "tok-gh-1234", "PMGUARD_FOLLOWUPS_GITHUB_REPO": "acme/api", "PMGUARD_FOLLOWUPS_GITHUB_API_URL": base,
			"PMGUARD_FOLLOWUPS_INCIDENT_FILE":  "../../internal/postmortem/testdata/reference/incident.yml",
			"PMGUARD_FOLLOWUPS_POSTMORTEM_DIR": filepath.Join(dir, "postmortem"),
			"PMGUARD_EVENTS_FILE":              filepath.Join(dir, "followups.jsonl"),
		},
	}
}

// TestDeadlineSettingBoundsRetryAfter: dora, postmortem and followups run
// under their deadline setting. A 429 asking to wait an hour, longer than
// the deadline leaves, is not waited for: the request fails at once (one
// request, no retry), and the message says the server asked to wait and
// how long was left. A server that never answers is cut at the deadline.
func TestDeadlineSettingBoundsRetryAfter(t *testing.T) {
	var limited atomic.Int64
	rateLimited := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limited.Add(1)
		w.Header().Set("Retry-After", "3600")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(rateLimited.Close)
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(hanging.Close)
	t.Cleanup(func() { close(release) })

	for verb, env := range deadlineVerbs(t, rateLimited.URL) {
		t.Run(verb+"/Retry-After past the deadline", func(t *testing.T) {
			before := limited.Load()
			code, out, errOut := invoke(t, env, verb, "--deadline", "5m")
			if code == 0 && verb != "postmortem" {
				t.Fatalf("exit 0\nstdout %s\nstderr %s", out, errOut)
			}
			contains(t, "output", out+errOut, "HTTP 429 (rate limited)", "asked to wait 1h0m0s", "left before the deadline", "not waited for")
			if n := limited.Load() - before; n != 1 {
				t.Errorf("%d requests, want 1: the Retry-After was waited for or the request retried", n)
			}
		})
	}
	for verb, env := range deadlineVerbs(t, hanging.URL) {
		t.Run(verb+"/a server that never answers", func(t *testing.T) {
			code, out, errOut := invoke(t, env, verb, "--deadline", "300ms")
			if code == 0 && verb != "postmortem" {
				t.Fatalf("exit 0\nstdout %s\nstderr %s", out, errOut)
			}
			contains(t, "output", out+errOut, "deadline")
		})
	}
	for verb, env := range deadlineVerbs(t, rateLimited.URL) {
		t.Run(verb+"/bad deadline", func(t *testing.T) {
			before := limited.Load()
			code, _, errOut := invoke(t, env, verb, "--deadline", "soon")
			if code != 2 || !strings.Contains(errOut, "invalid deadline") || !strings.Contains(errOut, "PMGUARD_"+strings.ToUpper(verb)+"_DEADLINE") {
				t.Errorf("exit %d: %s", code, errOut)
			}
			if limited.Load() != before {
				t.Error("bad input sent a request")
			}
		})
	}
}
