package main

import (
	"path/filepath"
	"testing"

	"github.com/pmguard/pmguard/internal/exitcode"
)

// TestPortOutOfRangeIsBadInput: a URL setting whose port cannot exist is
// bad input naming the setting, before any connection is tried.
func TestPortOutOfRangeIsBadInput(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"health endpoint", nil, []string{"health", "--endpoint", "http://127.0.0.1:99999/h"},
			[]string{"invalid endpoints", "PMGUARD_HEALTH_ENDPOINTS", "port 99999 is not between 1 and 65535"}},
		{"dora circleci_host", map[string]string{"CIRCLE_TOKEN": "tok-1234"},
			[]string{"dora", "--project-slug", "gh/acme/api", "--git-dir", dir, "--store", filepath.Join(dir, "d.db"), "--circleci-host", "http://127.0.0.1:99999"},
			[]string{"invalid circleci_host", "PMGUARD_CIRCLECI_HOST", "port 99999"}},
		{"notify slack_api_url", map[string]string{"SLACK_ACCESS_TOKEN": "xoxb-1234"},
			[]string{"notify", "--channel", "deploys", "--slack-api-url", "http://127.0.0.1:99999/api/"},
			[]string{"invalid slack_api_url", "PMGUARD_NOTIFY_SLACK_API_URL", "port 99999"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"PMGUARD_EVENTS_FILE": filepath.Join(t.TempDir(), "events.jsonl")}
			for k, v := range tt.env {
				env[k] = v
			}
			code, out, errOut := invoke(t, env, tt.args...)
			if code != exitcode.BadInput {
				t.Fatalf("exit %d, want 2\nstdout %s\nstderr %s", code, out, errOut)
			}
			contains(t, "stderr", errOut, tt.want...)
		})
	}
}

// TestPortOutOfRangeInOtherURLs: the Datadog URL given as dd_site is held
// to the same rule.
func TestPortOutOfRangeInOtherURLs(t *testing.T) {
	env := map[string]string{"DD_API_KEY": "k1234", "DD_APP_KEY": "a1234", "PMGUARD_EVENTS_FILE": filepath.Join(t.TempDir(), "events.jsonl")}
	code, out, errOut := invoke(t, env, "canary", "--source", "datadog", "--canary-selector", "service:api", "--dd-site", "http://127.0.0.1:99999/dd")
	if code != exitcode.BadInput {
		t.Fatalf("exit %d, want 2\nstdout %s\nstderr %s", code, out, errOut)
	}
	contains(t, "stderr", errOut, "port 99999 is not between 1 and 65535", "dd-site")
}
