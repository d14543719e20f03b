package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/exitcode"
)

// scanSecrets are recognisable values for every kind of secret pmguard
// handles: tokens and keys named by *_env settings, a header value taken
// from the environment, URL credentials and query values.
var scanSecrets = map[string]string{
	"CIRCLE_TOKEN":       "ct-Scan-S3cret-01",
	"SLACK_ACCESS_TOKEN": "xoxb-Scan-S3cret-02",
	"DD_API_KEY":         "dd-Scan-S3cret-03",
	"DD_APP_KEY":         "dd-Scan-S3cret-04",
	"HK":                 "hk-Scan-S3cret-05",
	"PROM_TOKEN":         "pt-Scan-S3cret-06",
	"PAGERDUTY_TOKEN":    "pd-Scan-S3cret-11",
	"GITHUB_TOKEN":       "gh-Scan-S3cret-12",
	"JIRA_API_TOKEN":     "jr-Scan-S3cret-13",
	"DATABASE_URL":       "", // set per run: it names a closed port
}

const (
	scanPassword = "pw-Scan-S3cret-07"
	scanQuery    = "q-Scan-S3cret-08"
	scanWebhook  = "wh-Scan-S3cret-09"
	scanDBPass   = "db-Scan-S3cret-10"
)

func scanValues() []string {
	out := []string{scanPassword, scanQuery, scanWebhook, scanDBPass,
		// The Basic authorization sent for the URLs' user info (ci:password)
		// and for Jira (email:token): a server that echoes its request
		// headers echoes these.
		base64.StdEncoding.EncodeToString([]byte("ci:" + scanPassword)),
		base64.StdEncoding.EncodeToString([]byte("sre@acme.example:" + scanSecrets["JIRA_API_TOKEN"])),
	}
	for _, v := range scanSecrets {
		if v != "" {
			out = append(out, v)
		}
	}
	return out
}

// recorder is a loopback server that keeps everything it received.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	seen []string
}

func (r *recorder) record(req *http.Request) string {
	body, _ := io.ReadAll(req.Body)
	text := fmt.Sprintf("%s %s %v %v %s", req.Method, req.URL, req.URL.Query(), req.Header, body)
	r.mu.Lock()
	r.seen = append(r.seen, text)
	r.mu.Unlock()
	return text
}

func (r *recorder) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.seen...)
}

// hostileAPI stands in for every vendor at once and misbehaves the way the
// first path segment says, echoing what it received (credentials included)
// into its answer, as some error pages do:
//
//	/redirect/...  307 to the same path on another origin (other)
//	/relay/...     302 to another origin whose URL carries every query and
//	               header value received
//	/500/...       500 with the echo
//	/401/...       401 with the echo
//	/shape/...     200 whose JSON has none of the fields any API has
func hostileAPI(t *testing.T, other *recorder) *recorder {
	api := &recorder{}
	api.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		echo := api.record(r)
		mode, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
		switch mode {
		case "redirect":
			// Only the redirect's target is another origin's: what the
			// client carries along (headers, body) is what is scanned.
			http.Redirect(w, r, other.URL+"/landed", http.StatusTemporaryRedirect)
		case "relay":
			q := r.URL.Query()
			for k, v := range r.Header {
				q["h-"+k] = v
			}
			http.Redirect(w, r, other.URL+"/landed?"+q.Encode(), http.StatusFound)
		case "500":
			http.Error(w, echo, http.StatusInternalServerError)
		case "401":
			http.Error(w, echo, http.StatusUnauthorized)
		default:
			w.Header().Set("Content-Type", "application/json")
			b, _ := json.Marshal(map[string]string{"echo": echo})
			w.Write(b)
		}
	}))
	t.Cleanup(api.Close)
	return api
}

// TestSecretScan runs every verb in its failure modes with recognisable
// secrets in the environment and in URLs, then greps everything the run
// produced (stdout, stderr, every file it wrote: reports, event log,
// post-mortem and DORA pages) and everything another origin received after a
// redirect. No secret may appear in any of them.
func TestSecretScan(t *testing.T) {
	other := &recorder{}
	other.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.record(r)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(other.Close)
	api := hostileAPI(t, other)
	closed := closedAddr(t)
	credsBase := func(base string) string {
		return strings.Replace(base, "http://", "http://ci:"+scanPassword+"@", 1)
	}
	withCreds := func(base, mode, path string) string {
		return strings.Replace(base, "http://", "http://ci:"+scanPassword+"@", 1) + "/" + mode + path + "?code=" + scanQuery + "&region=eu"
	}

	type run struct {
		verb string
		env  map[string]string
	}
	runs := func(mode string) []run {
		base := api.URL + "/" + mode
		return []run{
			{"health", map[string]string{
				"PMGUARD_HEALTH_ENDPOINTS": withCreds(api.URL, mode, "/health"),
				"PMGUARD_HEALTH_HEADERS":   "X-Api-Key: ${HK}",
				"PMGUARD_HEALTH_JSON_PATH": "status=ok",
				"PMGUARD_HEALTH_RETRIES":   "1",
				"PMGUARD_HEALTH_INTERVAL":  "1ms",
			}},
			{"canary", map[string]string{
				"PMGUARD_CANARY_URL":          withCreds(api.URL, mode, "/canary"),
				"PMGUARD_CANARY_HEADERS":      "X-Api-Key: ${HK}",
				"PMGUARD_CANARY_RATE":         "200",
				"PMGUARD_CANARY_MIN_SAMPLES":  "5",
				"PMGUARD_CANARY_MAX_DURATION": "1s",
				"PMGUARD_CANARY_TIMEOUT":      "500ms",
			}},
			{"canary", map[string]string{
				"PMGUARD_CANARY_SOURCE":               "prometheus",
				"PMGUARD_CANARY_PROMETHEUS_URL":       base,
				"PMGUARD_CANARY_PROMETHEUS_TOKEN_ENV": "PROM_TOKEN",
				"PMGUARD_CANARY_CANARY_SELECTOR":      `{app="api",track="canary"}`,
				"PMGUARD_CANARY_INTERVAL":             "1s",
				"PMGUARD_CANARY_MAX_DURATION":         "3s",
			}},
			{"canary", map[string]string{
				"PMGUARD_CANARY_SOURCE":          "datadog",
				"PMGUARD_CANARY_DD_SITE":         credsBase(base),
				"PMGUARD_CANARY_CANARY_SELECTOR": "app:api,track:canary",
				"PMGUARD_CANARY_INTERVAL":        "1s",
				"PMGUARD_CANARY_MAX_DURATION":    "3s",
			}},
			{"rollback", map[string]string{
				"PMGUARD_CIRCLECI_HOST":            base,
				"PMGUARD_ROLLBACK_PROJECT_SLUG":    "gh/acme/api",
				"PMGUARD_ROLLBACK_PIPELINE_ID":     "5034460f-c7c4-4c43-9457-de07e2029e7b",
				"PMGUARD_ROLLBACK_DEPLOY_WORKFLOW": "deploy",
			}},
			{"notify", map[string]string{
				"PMGUARD_SLACK_API_URL":        base + "/",
				"PMGUARD_NOTIFY_CHANNEL":       "C0123456789",
				"PMGUARD_NOTIFY_CUSTOM":        `{"text":"token ${CIRCLE_TOKEN} key ${DD_API_KEY} hk ${HK}","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"${SLACK_ACCESS_TOKEN}"}}]}`,
				"PMGUARD_NOTIFY_FAIL_ON_ERROR": "true",
			}},
			{"notify", map[string]string{
				"SLACK_ACCESS_TOKEN":           "",
				"SLACK_WEBHOOK_URL":            base + "/services/T000/B000/" + scanWebhook,
				"PMGUARD_NOTIFY_FAIL_ON_ERROR": "true",
			}},
			// Written with an upper-case scheme and a query: still a webhook,
			// and its path still the secret.
			{"notify", map[string]string{
				"SLACK_ACCESS_TOKEN":           "",
				"SLACK_WEBHOOK_URL":            "HTTP" + strings.TrimPrefix(base, "http") + "/services/T000/B000/" + scanWebhook + "?src=" + scanQuery,
				"PMGUARD_NOTIFY_FAIL_ON_ERROR": "true",
			}},
			{"postmortem", map[string]string{
				"PMGUARD_CIRCLECI_HOST":              base,
				"PMGUARD_SLACK_API_URL":              base + "/",
				"PMGUARD_POSTMORTEM_FAILED_PIPELINE": "5034460f-c7c4-4c43-9457-de07e2029e7b",
				"PMGUARD_POSTMORTEM_SLACK_CHANNEL":   "C0123456789",
			}},
			// The importers: Datadog events, the PagerDuty incident, a
			// Slack thread.
			{"postmortem", map[string]string{
				"PMGUARD_CIRCLECI_HOST":                 base,
				"PMGUARD_SLACK_API_URL":                 base + "/",
				"PMGUARD_POSTMORTEM_FAILED_PIPELINE":    "5034460f-c7c4-4c43-9457-de07e2029e7b",
				"PMGUARD_POSTMORTEM_DATADOG_SITE":       base,
				"PMGUARD_POSTMORTEM_DATADOG_QUERY":      "service:checkout",
				"PMGUARD_POSTMORTEM_PAGERDUTY_API_URL":  base,
				"PMGUARD_POSTMORTEM_PAGERDUTY_INCIDENT": "Q1CHECKOUT",
				"PMGUARD_POSTMORTEM_SLACK_THREAD":       "C0123456789/1763648705.000100",
			}},
			{"followups", map[string]string{
				"PMGUARD_FOLLOWUPS_INCIDENT_FILE":  "../../internal/postmortem/testdata/reference/incident.yml",
				"PMGUARD_FOLLOWUPS_GITHUB_REPO":    "acme/shop",
				"PMGUARD_FOLLOWUPS_GITHUB_API_URL": base,
			}},
			{"followups", map[string]string{
				"PMGUARD_FOLLOWUPS_INCIDENT_FILE": "../../internal/postmortem/testdata/reference/incident.yml",
				"PMGUARD_FOLLOWUPS_TRACKER":       "jira",
				"PMGUARD_FOLLOWUPS_JIRA_URL":      base,
				"PMGUARD_FOLLOWUPS_JIRA_PROJECT":  "OPS",
				"JIRA_EMAIL":                      "sre@acme.example",
			}},
			{"dora", map[string]string{
				"PMGUARD_CIRCLECI_HOST":      base,
				"PMGUARD_SLACK_API_URL":      base + "/",
				"PMGUARD_DORA_PROJECT_SLUG":  "gh/acme/api",
				"PMGUARD_DORA_SLACK_CHANNEL": "C0123456789",
			}},
			{"migrations", map[string]string{
				"DATABASE_URL":                        "postgres://app:" + scanDBPass + "@" + closed + "/app?sslmode=disable&password=" + scanDBPass,
				"PMGUARD_MIGRATIONS_DATABASE_URL_ENV": "DATABASE_URL",
				"PMGUARD_MIGRATIONS_TIMEOUT":          "5s",
			}},
		}
	}

	for _, mode := range []string{"redirect", "relay", "500", "401", "shape"} {
		for i, r := range runs(mode) {
			t.Run(fmt.Sprintf("%s/%s-%d", mode, r.verb, i), func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				env := map[string]string{
					"CIRCLE_PROJECT_USERNAME": "acme", "CIRCLE_PROJECT_REPONAME": "api", "CIRCLE_BRANCH": "main",
					"CIRCLE_SHA1": "0123456789abcdef0123456789abcdef01234567", "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/api/42",
					"PMGUARD_EVENTS_FILE": filepath.Join(dir, "events.jsonl"),
				}
				for k, v := range scanSecrets {
					env[k] = v
				}
				for k, v := range r.env {
					env[k] = v
				}
				upper := strings.ToUpper(r.verb)
				env["PMGUARD_"+upper+"_JSON"] = filepath.Join(dir, "report.json")
				env["PMGUARD_"+upper+"_JUNIT"] = filepath.Join(dir, "junit.xml")
				env["PMGUARD_"+upper+"_OUTPUT_DIR"] = filepath.Join(dir, "out")
				env["PMGUARD_"+upper+"_POSTMORTEM_DIR"] = filepath.Join(dir, "out")
				env["PMGUARD_"+upper+"_STORE"] = filepath.Join(dir, "dora.db") // scanned with the rest, and out of the source tree
				if r.verb == "migrations" {
					env["PMGUARD_MIGRATIONS_REPO"] = migrationsRepo(t)
					env["PMGUARD_MIGRATIONS_BASE"] = "HEAD~1"
				}
				code, stdout, stderr := invokeCtx(t, 2*time.Minute, env, r.verb)
				// Every run fails (nothing here is a healthy vendor), and none
				// for bad input: each must reach the network to be scanned.
				if code == exitcode.BadInput || code == exitcode.Pass {
					t.Fatalf("exit %d: want a failure after network calls\n%s\n%s", code, stdout, stderr)
				}
				texts := map[string]string{"stdout": stdout, "stderr": stderr}
				filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
					if err == nil && !e.IsDir() {
						b, _ := os.ReadFile(p)
						texts[strings.TrimPrefix(p, dir)] = string(b)
					}
					return nil
				})
				for name, text := range texts {
					for _, s := range scanValues() {
						if strings.Contains(text, s) {
							t.Errorf("%s shows secret %q:\n%s", name, s, text)
						}
					}
				}
			})
		}
	}
	t.Cleanup(func() {
		if len(other.received()) == 0 || len(api.received()) == 0 {
			t.Errorf("the API got %d requests and the other origin %d: the redirects were not exercised", len(api.received()), len(other.received()))
		}
		for _, got := range other.received() {
			for _, s := range scanValues() {
				if strings.Contains(got, s) {
					t.Errorf("another origin received secret %q after a redirect:\n%s", s, got)
				}
			}
		}
	})
}

// invokeCtx is invoke with a deadline the run must end within.
func invokeCtx(t *testing.T, bound time.Duration, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	done := make(chan [3]any, 1)
	go func() {
		code, out, errOut := invoke(t, env, args...)
		done <- [3]any{code, out, errOut}
	}()
	select {
	case r := <-done:
		return r[0].(int), r[1].(string), r[2].(string)
	case <-time.After(bound):
		t.Fatalf("pmguard %s did not end within %s", args[0], bound)
		return 0, "", ""
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// migrationsRepo is a git repository whose last commit adds a migration.
func migrationsRepo(t *testing.T) string {
	dir := t.TempDir()
	git := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=ci", "-c", "user.email=ci@example.com"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	write := func(name, sql string) {
		p := filepath.Join(dir, "db", "migrations", name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(sql), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	write("001_users.sql", "CREATE TABLE users (id bigint PRIMARY KEY, email text);\n")
	git("add", ".")
	git("commit", "-qm", "users")
	write("002_name.sql", "ALTER TABLE users ADD COLUMN name text;\n")
	git("add", ".")
	git("commit", "-qm", "name")
	return dir
}

// TestBadURLsStayHidden: a URL setting given wrong (a port that cannot be
// dialled, a base URL with a query, a scheme that is not http) is bad input,
// and the message saying so names the setting without quoting the URL's
// password or query values.
func TestBadURLsStayHidden(t *testing.T) {
	bad := []string{
		"http://ci:" + scanPassword + "@127.0.0.1:99999/x",
		"http://ci:" + scanPassword + "@127.0.0.1:8080/x?code=" + scanQuery,
		"ftp://ci:" + scanPassword + "@127.0.0.1/x?code=" + scanQuery,
	}
	settings := []struct {
		verb, env string
		extra     map[string]string
		named     string // what the message names, when not env
	}{
		{"health", "PMGUARD_HEALTH_ENDPOINTS", nil, ""},
		{"canary", "PMGUARD_CANARY_PROMETHEUS_URL", map[string]string{"PMGUARD_CANARY_SOURCE": "prometheus", "PMGUARD_CANARY_CANARY_SELECTOR": `{track="canary"}`}, ""},
		{"canary", "PMGUARD_CANARY_DD_SITE", map[string]string{"PMGUARD_CANARY_SOURCE": "datadog", "PMGUARD_CANARY_CANARY_SELECTOR": "track:canary"}, ""},
		{"rollback", "PMGUARD_CIRCLECI_HOST", map[string]string{"PMGUARD_ROLLBACK_PROJECT_SLUG": "gh/acme/api", "PMGUARD_ROLLBACK_DEPLOY_WORKFLOW": "deploy", "PMGUARD_ROLLBACK_PIPELINE_ID": "5034460f-c7c4-4c43-9457-de07e2029e7b"}, ""},
		{"notify", "PMGUARD_SLACK_API_URL", map[string]string{"PMGUARD_NOTIFY_CHANNEL": "C0123456789"}, "--slack-api-url"},
		{"postmortem", "PMGUARD_POSTMORTEM_PAGERDUTY_API_URL", map[string]string{"PMGUARD_POSTMORTEM_PAGERDUTY_INCIDENT": "Q1"}, ""},
		{"followups", "PMGUARD_FOLLOWUPS_GITHUB_API_URL", map[string]string{"PMGUARD_FOLLOWUPS_GITHUB_REPO": "acme/shop", "PMGUARD_FOLLOWUPS_INCIDENT_FILE": "../../internal/postmortem/testdata/reference/incident.yml"}, ""},
		{"dora", "PMGUARD_CIRCLECI_HOST", map[string]string{"PMGUARD_DORA_PROJECT_SLUG": "gh/acme/api"}, "--circleci-host"},
	}
	for _, s := range settings {
		for i, v := range bad {
			if s.verb == "health" && i == 1 {
				continue // an endpoint may carry a query
			}
			t.Run(fmt.Sprintf("%s/%s/%d", s.verb, s.env, i), func(t *testing.T) {
				env := map[string]string{s.env: v, "PMGUARD_EVENTS_FILE": filepath.Join(t.TempDir(), "events.jsonl")}
				for k, v := range scanSecrets {
					env[k] = v
				}
				for k, v := range s.extra {
					env[k] = v
				}
				named := s.named
				if named == "" {
					named = s.env
				}
				code, stdout, stderr := invoke(t, env, s.verb)
				if code != exitcode.BadInput || !strings.Contains(stderr, named) {
					t.Fatalf("exit %d, want %d and a message naming %s:\n%s%s", code, exitcode.BadInput, named, stdout, stderr)
				}
				for _, secret := range []string{scanPassword, scanQuery} {
					if strings.Contains(stdout+stderr, secret) {
						t.Errorf("the message quotes %q:\n%s%s", secret, stdout, stderr)
					}
				}
			})
		}
	}
}
