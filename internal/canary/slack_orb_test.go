package canary

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/notify/slacktest"
	"github.com/pmguard/pmguard/orb/orbtest"
)

// slackFor starts the Slack stand-in with a #deploys channel and points the
// job at it.
func slackFor(t *testing.T, job *orbtest.Job) *slacktest.Server {
	t.Helper()
	s := slacktest.Start(t)
	s.AddChannel("deploys", true)
	job.Env["SLACK_ACCESS_TOKEN"] = s.Token
	job.Env["PMGUARD_SLACK_API_URL"] = s.APIURL()
	return s
}

// noticeText is a message's text and blocks as one string.
func noticeText(m slacktest.Message) string {
	b, _ := json.Marshal(m.Blocks)
	return m.Text + " " + strings.NewReplacer(`\n`, " ", `\u0026`, "&").Replace(string(b))
}

// TestOrbCanaryCheckPostsToSlack: canary_check takes the Slack parameters
// canary_deploy has. It posts a fail when the step fails, every verdict in
// shadow mode (which never fails the step) and with on_inconclusive hold
// (a held verdict and a pass alike: the approver needs to know which), and
// nothing for a pass otherwise.
func TestOrbCanaryCheckPostsToSlack(t *testing.T) {
	o, bin := orbWithVerb(t)
	tests := []struct {
		name       string
		svc        *service
		args       map[string]any
		wantFailed bool
		want       []string // in the one notice; nil: no notice
	}{
		{"enforce: a fail is posted", &service{errEvery: 4}, nil, true,
			[]string{"Canary failed", "No rollback has started yet"}},
		{"enforce: a pass is not", &service{}, nil, false, nil},
		{"shadow: a fail is posted, the step passes", &service{errEvery: 4}, map[string]any{"mode": "shadow"}, false,
			[]string{"Canary failed (shadow mode)", "No action was taken (shadow mode)"}},
		{"shadow: a pass is posted", &service{}, map[string]any{"mode": "shadow"}, false,
			[]string{"Canary passed (shadow mode)"}},
		{"hold: a held verdict is posted", &service{}, map[string]any{"on_inconclusive": "hold", "min_samples": 1000000, "max_duration": "1s", "timeout": "500ms"}, false,
			[]string{"Canary held for approval", "the approval job decides"}},
		{"hold: a pass is posted", &service{}, map[string]any{"on_inconclusive": "hold"}, false,
			[]string{"Canary passed", "Nothing was rolled back"}},
		// A bad parameter fails the step before any analysis: the notice
		// says no canary was judged, not that one failed.
		{"enforce: a bad parameter", &service{}, map[string]any{"max_duration": "soon"}, true,
			[]string{"Canary step failed", "no canary was judged"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url := startService(t, tc.svc)
			job := orbtest.NewJob(t, o)
			job.Env["PATH"] = bin + ":" + os.Getenv("PATH")
			slack := slackFor(t, job)
			args := map[string]any{
				"url": url, "rate": "400", "min_samples": 200, "max_duration": "20s", "slack_channel": "#deploys",
				"events_file": filepath.Join(job.Dir, "events.jsonl"),
				"report_path": filepath.Join(job.Dir, "report.json"),
				"junit_path":  filepath.Join(job.Dir, "junit.xml"),
			}
			for k, v := range tc.args {
				args[k] = v
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := job.Run(ctx, "canary_check", args)
			if (err != nil) != tc.wantFailed {
				t.Fatalf("job error %v, want failed=%v", err, tc.wantFailed)
			}
			msgs := slack.Messages("deploys")
			if tc.want == nil {
				if len(msgs) != 0 {
					t.Errorf("posted %d notices, want none: %s", len(msgs), noticeText(msgs[0]))
				}
				return
			}
			if len(msgs) != 1 {
				t.Fatalf("posted %d notices, want 1", len(msgs))
			}
			text := noticeText(msgs[0])
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("notice lacks %q:\n%s", w, text)
				}
			}
			if tc.name == "enforce: a bad parameter" && strings.Contains(text, "Canary failed") {
				t.Errorf("the notice says a canary failed, though none was judged:\n%s", text)
			}
		})
	}
}

// TestOrbCanaryDeploySlackAfterRollback: canary_deploy posts through
// canary_check's notice; after a failing step the notice says the weight is
// back at 0% and the rollback steps run next, never that no rollback has
// started.
func TestOrbCanaryDeploySlackAfterRollback(t *testing.T) {
	o, bin := orbWithVerb(t)
	job := orbtest.NewJob(t, o)
	job.Env["PATH"] = bin + ":" + os.Getenv("PATH")
	slack := slackFor(t, job)
	shift := "#!/bin/sh\necho \"$1\" > weight\n"
	if err := os.WriteFile(filepath.Join(job.Dir, "shift.sh"), []byte(shift), 0o755); err != nil {
		t.Fatal(err)
	}
	url := startWeighted(t, &weightedService{file: filepath.Join(job.Dir, "weight"), failAt: 50})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := job.Run(ctx, "canary_deploy", map[string]any{
		"deploy_canary": []any{map[string]any{"run": map[string]any{"name": "Deploy the canary", "command": "echo deployed"}}},
		"steps":         "10,50,100", "set_weight": "./shift.sh $PMGUARD_WEIGHT",
		"url": url, "rate": "400", "min_samples": 200, "max_duration": "20s", "slack_channel": "deploys",
		"events_file": filepath.Join(job.Dir, "events.jsonl"),
		"report_path": filepath.Join(job.Dir, "report.json"),
		"junit_path":  filepath.Join(job.Dir, "junit.xml"),
		"deploy_full": []any{map[string]any{"run": map[string]any{"name": "Deploy everywhere", "command": "echo full"}}},
		"rollback":    []any{map[string]any{"run": map[string]any{"name": "Roll back", "command": "echo rolling back", "when": "on_fail"}}},
	})
	if err == nil {
		t.Fatal("a canary failing at 50% passed the job")
	}
	msgs := slack.Messages("deploys")
	if len(msgs) != 1 {
		t.Fatalf("posted %d notices, want 1", len(msgs))
	}
	text := noticeText(msgs[0])
	for _, w := range []string{"step 2 (50%): fail", "weight set back to 0%", "The canary's weight is back at 0%", "rollback steps (`when: on_fail`) run next"} {
		if !strings.Contains(text, w) {
			t.Errorf("notice lacks %q:\n%s", w, text)
		}
	}
	if strings.Contains(text, "No rollback has started yet") {
		t.Errorf("notice says no rollback started after the weight went back to 0:\n%s", text)
	}
}

func startWeighted(t *testing.T, s *weightedService) string {
	t.Helper()
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return srv.URL
}
