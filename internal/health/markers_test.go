package health_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/deploymarker/markertest"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/health"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// TestDeployMarkers: with the circleci CLI in PATH (a stand-in that
// validates CircleCI's documented flags), a check records plan, RUNNING and
// its outcome; the failure reason names the failing endpoint and the job,
// and never a secret.
func TestDeployMarkers(t *testing.T) {
	const secret = "tok-9f8e7d6c5b4a"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	tests := []struct {
		name     string
		path     string
		args     []string
		statuses string
		exit     int
	}{
		{"pass", "/up", nil, "RUNNING SUCCESS", exitcode.Pass},
		{"fail", "/down", nil, "RUNNING FAILED", exitcode.Fail},
		{"release validation owns success", "/up", []string{"--release-validation"}, "RUNNING", exitcode.Pass},
		{"off", "/down", []string{"--deploy-markers", "off"}, "", exitcode.Fail},
		// A report that cannot be written (its directory gone after the
		// check started) does not leave the deploy RUNNING.
		{"report unwritable", "/up", []string{"--json", "REPORT"}, "RUNNING SUCCESS", exitcode.CouldNotRun},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cli := markertest.Install(t)
			env := map[string]string{
				"PATH": cli.Dir, "CIRCLE_JOB": "deploy", "CIRCLE_SHA1": "4f2c9a1", "CIRCLE_PROJECT_REPONAME": "api",
				"CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/api/9", "API_TOKEN": secret,
			}
			args := append([]string{"--endpoint", srv.URL + tc.path + "?key=" + secret, "--retries", "0", "--header", "Authorization: Bearer ${API_TOKEN}",
				"--deploy-environment", "production"}, tc.args...)
			reportDir := filepath.Join(t.TempDir(), "reports")
			for i, a := range args {
				if a == "REPORT" {
					args[i] = filepath.Join(reportDir, "report.json")
				}
			}
			var out strings.Builder
			d := verbtest.Deps(env, &out, nil)
			o, err := health.New(context.Background(), d, args)
			if err != nil {
				t.Fatal(err)
			}
			if tc.exit == exitcode.CouldNotRun {
				if err := os.RemoveAll(reportDir); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(reportDir, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			err = health.Run(context.Background(), o)
			if exitcode.Of(err) != tc.exit {
				t.Fatalf("exit %d: %v\n%s", exitcode.Of(err), err, out.String())
			}
			if got := strings.Join(cli.Statuses(t), " "); got != tc.statuses {
				t.Errorf("marker updates %q, want %q\n%s", got, tc.statuses, out.String())
			}
			calls := cli.Calls(t)
			for _, c := range calls {
				if strings.Contains(strings.Join(c, " "), secret) {
					t.Errorf("the secret reached the CLI's argv: %q", c)
				}
			}
			if tc.statuses == "" {
				if len(calls) != 0 {
					t.Errorf("deploy_markers off ran %q", calls)
				}
				return
			}
			if got := strings.Join(calls[0], " "); got != "run release plan deploy --target-version=4f2c9a1 --environment-name=production --component-name=api" {
				t.Errorf("plan: %s", got)
			}
			if tc.exit == exitcode.Fail {
				last := strings.Join(calls[len(calls)-1], " ")
				if !strings.Contains(last, "--failure-reason=health check FAILED: 1 of 1 endpoint(s) failed") || !strings.Contains(last, "/down") ||
					!strings.Contains(last, "https://circleci.com/gh/acme/api/9") {
					t.Errorf("failure reason: %s", last)
				}
			}
			if strings.Contains(out.String(), "deploy marker: note") {
				t.Errorf("the CLI refused a call:\n%s", out.String())
			}
		})
	}
}

// TestDeployMarkerSlowCLI: the deadline bounds the check, not the marker
// calls before it. A circleci CLI that takes longer than the whole deadline
// to plan the release leaves the verdict on a healthy endpoint a pass.
func TestDeployMarkerSlowCLI(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	cli := markertest.Install(t)
	env := map[string]string{"PATH": cli.Dir, "CIRCLE_JOB": "deploy", "CIRCLE_SHA1": "4f2c9a1"}
	var out strings.Builder
	d := verbtest.Deps(env, &out, nil)
	o, err := health.New(context.Background(), d, []string{"--endpoint", srv.URL, "--retries", "0", "--deadline", "300ms"})
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	o.RunCLI = func(ctx context.Context, name string, args ...string) ([]byte, error) {
		calls = append(calls, strings.Join(args, " "))
		if args[2] == "plan" {
			// Slower than the whole deadline; the call's own timeout is
			// far longer.
			select {
			case <-time.After(600 * time.Millisecond):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		return nil, nil
	}
	if err := health.Run(context.Background(), o); err != nil {
		t.Fatalf("a slow CLI failed the check: %v\n%s", err, out.String())
	}
	if len(calls) != 3 {
		t.Errorf("marker calls %q, want plan, RUNNING, SUCCESS", calls)
	}
}
