package canary

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
)

// TestPromotionMarker: with deploy_marker_success promotion a passing
// canary leaves the release RUNNING and says so in its verdict event; a
// later --promotion run closes it, SUCCESS or FAILED with the reason. A
// release the canary already failed, or none at all, is left alone.
func TestPromotionMarker(t *testing.T) {
	judge := func(t *testing.T, svc *service, evFile string) ([]string, error) {
		srv := httptest.NewServer(svc)
		t.Cleanup(srv.Close)
		env := map[string]string{"PATH": cliPath(t), "CIRCLE_SHA1": "abc1234", "CIRCLE_JOB": "deploy", "CIRCLE_PIPELINE_ID": "p-1"}
		o, err := load(t, env, "--url", srv.URL, "--rate", "400", "--min-samples", "100", "--max-duration", "20s",
			"--deploy-marker-success", "promotion", "--events-file", evFile)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		o.RunCLI = rec.runCLI
		err = o.testRun(nil, nil, config.Reports{})
		return rec.cli, err
	}
	promote := func(t *testing.T, outcome, evFile string, args ...string) ([]string, string) {
		env := map[string]string{"PATH": cliPath(t), "CIRCLE_SHA1": "abc1234", "CIRCLE_JOB": "deploy", "CIRCLE_PIPELINE_ID": "p-1",
			"CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/api/77"}
		// Only the marker's settings and the event log are given: the
		// analysis' own (the URL) are not needed.
		o, err := load(t, env, append([]string{"--promotion", outcome, "--events-file", evFile}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		o.RunCLI = rec.runCLI
		var out strings.Builder
		if err := o.testRun(&out, nil, config.Reports{}); err != nil {
			t.Fatalf("recording the promotion must never fail the step: %v", err)
		}
		return rec.cli, out.String()
	}

	for _, outcome := range []string{"succeeded", "failed"} {
		t.Run(outcome, func(t *testing.T) {
			evFile := filepath.Join(t.TempDir(), "events.jsonl")
			calls, err := judge(t, &service{}, evFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(calls, "\n"); strings.Contains(got, "SUCCESS") || !strings.HasSuffix(got, "--status=RUNNING") {
				t.Errorf("the pass marked the release before the promotion:\n%s", got)
			}
			evs, _, _ := events.ReadFiles(evFile)
			var f events.Canary
			for _, e := range evs {
				if e.Event == events.CanaryPassed {
					e.Decode(&f)
				}
			}
			if f.DeployMarker != "RUNNING" || f.DeployName != "deploy" {
				t.Errorf("verdict event: deploy_marker %q deploy_name %q", f.DeployMarker, f.DeployName)
			}
			calls, out := promote(t, outcome, evFile)
			want := "circleci run release update deploy --status=SUCCESS"
			if outcome == "failed" {
				want = "circleci run release update deploy --status=FAILED --failure-reason=the canary passed, then a later step failed, so the promotion (deploy_full) did not complete; the canary: canary PASSED"
			}
			if len(calls) != 1 || !strings.HasPrefix(calls[0], want) {
				t.Errorf("promotion calls %q, want %s\n%s", calls, want, out)
			}
			if outcome == "failed" && !strings.HasSuffix(calls[0], "; see https://circleci.com/gh/acme/api/77") {
				t.Errorf("reason without the job: %s", calls[0])
			}
		})
	}

	t.Run("after a fail", func(t *testing.T) {
		evFile := filepath.Join(t.TempDir(), "events.jsonl")
		calls, err := judge(t, &service{errEvery: 3}, evFile)
		if err == nil || !strings.Contains(calls[len(calls)-1], "--status=FAILED") {
			t.Fatalf("err %v, calls %q", err, calls)
		}
		calls, out := promote(t, "failed", evFile)
		if len(calls) != 0 || !strings.Contains(out, "not waiting for its promotion (the canary left it FAILED") {
			t.Errorf("calls %q\n%s", calls, out)
		}
	})
	t.Run("twice", func(t *testing.T) {
		evFile := filepath.Join(t.TempDir(), "events.jsonl")
		if _, err := judge(t, &service{}, evFile); err != nil {
			t.Fatal(err)
		}
		if calls, out := promote(t, "succeeded", evFile); len(calls) != 1 {
			t.Fatalf("calls %q\n%s", calls, out)
		}
		calls, out := promote(t, "failed", evFile)
		if len(calls) != 0 || !strings.Contains(out, "recorded already (SUCCESS)") {
			t.Errorf("a second promotion updated the closed release: calls %q\n%s", calls, out)
		}
	})
	// A failed canary whose FAILED update did not reach CircleCI left the
	// release RUNNING: the promotion step marks it FAILED with the canary's
	// reason, even when told the promotion succeeded.
	t.Run("a fail left running", func(t *testing.T) {
		evFile := filepath.Join(t.TempDir(), "events.jsonl")
		line := `{"time":"2026-12-03T10:00:00Z","verb":"canary","event":"canary_failed","pipeline_id":"p-1","message":"canary FAILED: error rate 9%",` +
			`"figures":{"deploy_name":"deploy","deploy_marker":"RUNNING","error_rate":0.09,"samples":200,"errors":18,"elapsed_s":3}}` + "\n"
		if err := os.WriteFile(evFile, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		calls, out := promote(t, "succeeded", evFile)
		if len(calls) != 1 || !strings.HasPrefix(calls[0], "circleci run release update deploy --status=FAILED --failure-reason=the canary did not pass: canary FAILED: error rate 9%") {
			t.Errorf("calls %q\n%s", calls, out)
		}
	})
	// The same release name in an event log attached from another job of
	// the pipeline is not this job's release.
	t.Run("another job's release", func(t *testing.T) {
		evFile := filepath.Join(t.TempDir(), "events.jsonl")
		line := `{"time":"2026-12-03T10:00:00Z","verb":"canary","event":"canary_passed","pipeline_id":"p-1","job_url":"https://circleci.com/gh/acme/api/76",` +
			`"figures":{"deploy_name":"deploy","deploy_marker":"RUNNING","passed":true,"error_rate":0,"samples":200,"errors":0,"elapsed_s":3}}` + "\n"
		if err := os.WriteFile(evFile, []byte(line), 0o644); err != nil {
			t.Fatal(err)
		}
		calls, out := promote(t, "succeeded", evFile)
		if len(calls) != 0 || !strings.Contains(out, "no canary verdict for release deploy of this job") {
			t.Errorf("calls %q\n%s", calls, out)
		}
		// A promotion job after an approval says the verdict is another
		// job's.
		calls, out = promote(t, "succeeded", evFile, "--promotion-any-job")
		if len(calls) != 1 || !strings.HasPrefix(calls[0], "circleci run release update deploy --status=SUCCESS") {
			t.Errorf("with --promotion-any-job: calls %q\n%s", calls, out)
		}
	})
	t.Run("no verdict", func(t *testing.T) {
		calls, out := promote(t, "failed", filepath.Join(t.TempDir(), "events.jsonl"))
		if len(calls) != 0 || !strings.Contains(out, "no canary verdict for release deploy") {
			t.Errorf("calls %q\n%s", calls, out)
		}
	})
}
