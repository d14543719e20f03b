package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/health"
)

// invoke runs pmguard in-process as main would, with env as the whole
// environment, and returns the exit code, stdout and stderr.
func invoke(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{env: config.MapEnv(env), stdout: &stdout, stderr: &stderr, version: "1.2.3", commit: "0abc123", date: "2030-01-02T03:04:05Z"}
	code := a.main(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"version", "--version", "-v"} {
		code, out, errOut := invoke(t, nil, arg)
		if code != 0 || out != "pmguard 1.2.3 (commit 0abc123, built 2030-01-02T03:04:05Z)\n" || errOut != "" {
			t.Errorf("pmguard %s: exit %d, stdout %q, stderr %q", arg, code, out, errOut)
		}
	}
}

func TestVerbTable(t *testing.T) {
	verbs := []string{"health", "canary", "rollback", "notify", "postmortem", "followups", "dora", "migrations", "demo", "version"}
	tests := []struct {
		args     []string
		wantCode int
		inOut    bool // usage on stdout
	}{
		{nil, exitcode.BadInput, true},
		{[]string{"--help"}, exitcode.Pass, true},
		{[]string{"-h"}, exitcode.Pass, true},
		{[]string{"help"}, exitcode.Pass, true},
	}
	for _, tt := range tests {
		code, out, _ := invoke(t, nil, tt.args...)
		if code != tt.wantCode {
			t.Errorf("pmguard %v: exit %d, want %d", tt.args, code, tt.wantCode)
		}
		for _, v := range verbs {
			if !strings.Contains(out, "\n  "+v+" ") {
				t.Errorf("pmguard %v: usage does not list %s:\n%s", tt.args, v, out)
			}
		}
		contains(t, "usage", out, "Exit codes: 0 pass, 1 verdict fail, 2 bad input, 3 could not run.")
	}
	if got := len((&app{}).verbs()); got != len(verbs) {
		t.Errorf("%d verbs in the table, want %d", got, len(verbs))
	}

	code, out, errOut := invoke(t, nil, "deploy", "--now")
	if code != exitcode.BadInput || out != "" {
		t.Errorf("unknown verb: exit %d stdout %q", code, out)
	}
	contains(t, "stderr", errOut, `unknown verb "deploy"`, "pmguard help")
}

// TestCLIConventions: help VERB, suggestions for mistyped verbs and flags
// spelled as typed, version rejecting arguments.
func TestCLIConventions(t *testing.T) {
	code, out, _ := invoke(t, nil, "help", "health")
	if code != exitcode.Pass {
		t.Fatalf("help health: exit %d", code)
	}
	contains(t, "help health", out, "pmguard health: poll health endpoints", "Example:\n  pmguard health --endpoint", "Settings:\n  --endpoint", "Reports:\n")
	if strings.Index(out, "Settings:") > strings.Index(out, "Reports:") {
		t.Errorf("the verb's own settings must come before the shared groups:\n%s", out)
	}
	code, _, errOut := invoke(t, nil, "helth")
	if code != exitcode.BadInput {
		t.Errorf("helth: exit %d", code)
	}
	contains(t, "helth", errOut, `did you mean "health"?`)
	code, _, errOut = invoke(t, nil, "health", "--endpont", "https://x.example/health")
	if code != exitcode.BadInput {
		t.Errorf("--endpont: exit %d", code)
	}
	contains(t, "--endpont", errOut, "unknown flag --endpont; did you mean --endpoint?")
	_, _, errOut = invoke(t, nil, "health", "-endpont", "https://x.example/health")
	contains(t, "-endpont", errOut, "unknown flag -endpont;")
	code, _, errOut = invoke(t, nil, "health", "https://x.example/health")
	if code != exitcode.BadInput {
		t.Errorf("positional URL: exit %d", code)
	}
	contains(t, "positional", errOut, `unexpected argument "https://x.example/health"`)
	if code, _, _ := invoke(t, nil, "version", "--bogus"); code != exitcode.BadInput {
		t.Errorf("version --bogus: exit %d", code)
	}
}

// TestHealthHelp: --help lists every setting's flag, env var and default,
// read from the settings struct itself, and exits 0.
func TestHealthHelp(t *testing.T) {
	code, out, _ := invoke(t, nil, "health", "--help")
	if code != exitcode.Pass {
		t.Fatalf("exit %d", code)
	}
	var walk func(reflect.Type)
	n := 0
	walk = func(rt reflect.Type) {
		for i := 0; i < rt.NumField(); i++ {
			f := rt.Field(i)
			tag, ok := f.Tag.Lookup("env")
			if !ok {
				if f.Type.Kind() == reflect.Struct {
					walk(f.Type)
				}
				continue
			}
			n++
			key, opts, _ := strings.Cut(tag, ",")
			env := strings.TrimSpace(key)
			if !strings.HasPrefix(env, "PMGUARD_") {
				env = "PMGUARD_HEALTH_" + env
			}
			contains(t, "help", out, "--"+f.Tag.Get("flag")+" ", "env "+env, f.Tag.Get("usage"))
			if _, def, ok := strings.Cut(opts, "default="); ok {
				contains(t, "help", out, "env "+env+", default "+fmt.Sprintf("%q", def))
			}
		}
	}
	walk(reflect.TypeOf(health.Settings{}))
	if n < 20 {
		t.Errorf("only %d settings found", n)
	}
}

// counter is an endpoint that counts the requests it gets.
func counter(t *testing.T, status int) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &n
}

func TestHealthExitCodes(t *testing.T) {
	good, _ := counter(t, 200)
	bad, badHits := counter(t, 503)
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	os.WriteFile(file, nil, 0o644)
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"healthy", nil, []string{"--endpoint", good}, exitcode.Pass, "PASS: 1 endpoint(s) healthy", ""},
		{"healthy from env", map[string]string{"PMGUARD_HEALTH_ENDPOINTS": good + "/a\n" + good + "/b 200"}, nil, exitcode.Pass, "PASS: 2 endpoint(s) healthy", ""},
		{"unhealthy", nil, []string{"--endpoint", good, "--endpoint", bad, "--retries", "1", "--interval", "1ms"}, exitcode.Fail, "FAIL",
			"pmguard health: FAIL: 1 of 2 endpoint(s) failed: " + bad + " (status 503, want 200 after 2 attempt(s)"},
		// An output that cannot be written is bad input, found before any request.
		{"report cannot be written", nil, []string{"--endpoint", good, "--junit", file + "/junit.xml"}, exitcode.BadInput, "", "a-file/junit.xml"},
		{"event log cannot be opened", map[string]string{"PMGUARD_EVENTS_FILE": file + "/events.jsonl"}, []string{"--endpoint", good}, exitcode.BadInput, "", "PMGUARD_EVENTS_FILE"},
		{"unexpected argument", nil, []string{"--endpoint", good, "extra"}, exitcode.BadInput, "", `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := invoke(t, tt.env, append([]string{"health"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout %s\nstderr %s", code, tt.wantCode, out, errOut)
			}
			contains(t, "stdout", out, tt.wantOut)
			contains(t, "stderr", errOut, tt.wantErr)
		})
	}
	if badHits.Load() != 2 {
		t.Errorf("the unhealthy endpoint got %d requests, want 2", badHits.Load())
	}
}

// TestHealthBadInput: each bad setting exits 2 before any request, with one
// message naming the parameter, its flag and env var, and the accepted form.
func TestHealthBadInput(t *testing.T) {
	url, hits := counter(t, 200)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.txt")
	os.WriteFile(notPEM, []byte("this is not PEM"), 0o600)
	certFile := filepath.Join(dir, "client.pem")
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	srv.Close()

	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"bad URL", nil, []string{"--endpoint", "htp//nowhere"},
			[]string{"invalid endpoints", "--endpoint", "PMGUARD_HEALTH_ENDPOINTS", "scheme must be http or https", "accepted: one URL per line"}},
		{"URL without host", map[string]string{"PMGUARD_HEALTH_ENDPOINTS": url + "\nhttps:///health"}, nil,
			[]string{"invalid endpoints", "PMGUARD_HEALTH_ENDPOINTS", "no host", "accepted: one URL per line"}},
		{"no endpoint", map[string]string{"PMGUARD_HEALTH_ENDPOINTS": ""}, []string{},
			[]string{"invalid endpoints", "PMGUARD_HEALTH_ENDPOINTS", "required", "accepted: one URL per line"}},
		{"interval 10x", map[string]string{"PMGUARD_HEALTH_INTERVAL": "10x"}, nil,
			[]string{`invalid interval "10x"`, "--interval", "PMGUARD_HEALTH_INTERVAL", "not a duration", "accepted: a Go duration such as 500ms, 10s or 5m"}},
		{"retries -1", nil, []string{"--retries", "-1"},
			[]string{`invalid retries "-1"`, "--retries", "PMGUARD_HEALTH_RETRIES", "is negative", "accepted: a whole number, 0 or more"}},
		{"unknown status pattern", map[string]string{"PMGUARD_HEALTH_EXPECT_STATUS": "2xy"}, nil,
			[]string{`invalid expected_status "2xy"`, "--expect-status", "PMGUARD_HEALTH_EXPECT_STATUS", "accepted: status codes and ranges such as 200, 200,204, 2xx or 200-399"}},
		{"status out of range", nil, []string{"--expect-status", "200-700"},
			[]string{"invalid expected_status", "PMGUARD_HEALTH_EXPECT_STATUS", "outside 100-599", "accepted: status codes"}},
		{"unknown per-endpoint status", nil, []string{"--endpoint", url + "/x 6xx"},
			[]string{"invalid endpoints", "PMGUARD_HEALTH_ENDPOINTS", `"6xx" is not a status code`, "accepted:"}},
		{"unreadable CA file", map[string]string{"PMGUARD_HEALTH_CA_FILE": filepath.Join(dir, "missing.pem")}, nil,
			[]string{"invalid ca_file", "--ca-file", "PMGUARD_HEALTH_CA_FILE", "cannot read it: no such file or directory", "accepted: the path of a readable file"}},
		{"CA file is a directory", nil, []string{"--ca-file", dir},
			[]string{"invalid ca_file", "PMGUARD_HEALTH_CA_FILE", "is a directory", "accepted:"}},
		{"CA file is not PEM", nil, []string{"--ca-file", notPEM},
			[]string{"invalid ca_file", "--ca-file", "PMGUARD_HEALTH_CA_FILE", "holds no PEM certificate", "accepted: the path of a PEM file"}},
		{"client cert without key", nil, []string{"--client-cert", certFile},
			[]string{"invalid client_key", "--client-key", "PMGUARD_HEALTH_CLIENT_KEY", "needs both client_cert and client_key", "accepted:"}},
		{"client key without cert", nil, []string{"--client-key", certFile},
			[]string{"invalid client_cert", "PMGUARD_HEALTH_CLIENT_CERT", "needs both", "accepted:"}},
		{"client key is not a key", nil, []string{"--client-cert", certFile, "--client-key", certFile},
			[]string{"invalid client_key", "--client-key", "PMGUARD_HEALTH_CLIENT_KEY", "holds no PEM private key", "accepted: the path of the PEM private key"}},
		{"bad body regex", nil, []string{"--body-regex", "status: (ok"},
			[]string{`invalid body_regex "status: (ok"`, "--body-regex", "PMGUARD_HEALTH_BODY_REGEX", "missing closing )", "accepted: a Go regular expression (RE2 syntax)"}},
		{"bad json-path", map[string]string{"PMGUARD_HEALTH_JSON_PATH": "items[one].state=ok"}, nil,
			[]string{`invalid json_path "items[one].state=ok"`, "--json-path", "PMGUARD_HEALTH_JSON_PATH", "bad index", "accepted: PATH=VALUE"}},
		{"json-path without a value", nil, []string{"--json-path", "status"},
			[]string{"invalid json_path", "PMGUARD_HEALTH_JSON_PATH", "missing =VALUE", "accepted: PATH=VALUE"}},
		{"bad header", nil, []string{"--header", "no colon here"},
			[]string{"invalid headers", "--header", "PMGUARD_HEALTH_HEADERS", "accepted: 'Name: value'"}},
		{"header names an unset variable", map[string]string{"PMGUARD_HEALTH_HEADERS": "Authorization: Bearer ${API_TOKEN}"}, nil,
			[]string{"invalid headers", "PMGUARD_HEALTH_HEADERS", "${API_TOKEN}, which is not set", "accepted: 'Name: value'"}},
		{"bad timeout", nil, []string{"--timeout", "-5s"},
			[]string{"invalid timeout", "--timeout", "PMGUARD_HEALTH_TIMEOUT", "must not be negative", "accepted: a Go duration"}},
		{"bad deadline", map[string]string{"PMGUARD_HEALTH_DEADLINE": "soon"}, nil,
			[]string{"invalid deadline", "PMGUARD_HEALTH_DEADLINE", "accepted: a Go duration"}},
		{"bad success threshold", nil, []string{"--success-threshold", "0"},
			[]string{"invalid success_threshold", "PMGUARD_HEALTH_SUCCESS_THRESHOLD", "accepted: a whole number, 1 or more"}},
		{"bad insecure", map[string]string{"PMGUARD_HEALTH_INSECURE": "maybe"}, nil,
			[]string{"invalid insecure", "PMGUARD_HEALTH_INSECURE", "accepted: true or false"}},
		{"bad method", nil, []string{"--method", "GET /"},
			[]string{"invalid method", "--method", "PMGUARD_HEALTH_METHOD", "accepted: GET, HEAD, POST"}},
		{"unknown flag", nil, []string{"--retry", "3"},
			[]string{"pmguard health:", "unknown flag --retry; did you mean --retries?", "pmguard help health"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"PMGUARD_HEALTH_ENDPOINTS": url, "PMGUARD_EVENTS_FILE": filepath.Join(t.TempDir(), "events.jsonl")}
			for k, v := range tt.env {
				env[k] = v
			}
			reports := t.TempDir()
			args := append([]string{"health", "--json", filepath.Join(reports, "r.json"), "--junit", filepath.Join(reports, "j.xml")}, tt.args...)
			code, out, errOut := invoke(t, env, args...)
			if code != exitcode.BadInput {
				t.Fatalf("exit %d, want 2\nstdout %s\nstderr %s", code, out, errOut)
			}
			contains(t, "stderr", errOut, tt.want...)
			if lines := strings.Count(strings.TrimSpace(errOut), "\n"); lines != 0 {
				t.Errorf("want one message, got:\n%s", errOut)
			}
			if entries, _ := os.ReadDir(reports); len(entries) != 0 {
				t.Errorf("bad input wrote reports: %v", entries)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("%d requests were made despite bad input", n)
	}
}

// TestHealthSecretsEndToEnd: a header taken from an env var reaches the
// server, and neither it nor a URL's password or token shows in stdout,
// stderr, the reports or the event log.
func TestHealthSecretsEndToEnd(t *testing.T) {
	const token = "tok-e2e-S3cret-0042"
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Authorization"))
		if r.URL.Path == "/echo" { // a page that echoes what it got
			fmt.Fprintf(w, `{"status":%q}`, r.Header.Get("Authorization")+" "+r.URL.RawQuery)
			return
		}
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	paths := map[string]string{
		"JSON report":  filepath.Join(dir, "health.json"),
		"JUnit report": filepath.Join(dir, "junit.xml"),
		"event log":    filepath.Join(dir, "events.jsonl"),
	}
	withCreds := strings.Replace(srv.URL, "http://", "http://ci:pw-e2e-Hunter2@", 1) + "/echo?access_token=q-e2e-T0ken"
	env := map[string]string{
		"API_TOKEN":                token,
		"PMGUARD_HEALTH_HEADERS":   "Authorization: Bearer ${API_TOKEN}",
		"PMGUARD_HEALTH_ENDPOINTS": srv.URL + "/health\n" + withCreds,
		"PMGUARD_HEALTH_JSON_PATH": "status=ok",
		"PMGUARD_HEALTH_RETRIES":   "1",
		"PMGUARD_HEALTH_INTERVAL":  "1ms",
		"PMGUARD_EVENTS_FILE":      paths["event log"],
	}
	code, out, errOut := invoke(t, env, "health", "--json", paths["JSON report"], "--junit", paths["JUnit report"])
	if code != exitcode.Fail {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if got.Load() != "Bearer "+token {
		t.Errorf("server got Authorization %q", got.Load())
	}
	texts := map[string]string{"stdout": out, "stderr": errOut}
	for name, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		texts[name] = string(b)
	}
	contains(t, "stdout", out, "[REDACTED]", "REDACTED@")
	for name, text := range texts {
		for _, secret := range []string{token, "pw-e2e-Hunter2", "q-e2e-T0ken"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows %q:\n%s", name, secret, text)
			}
		}
	}
}

// TestHealthTLSEndToEnd: the TLS settings reach the client pmguard builds.
func TestHealthTLSEndToEnd(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.Config.ErrorLog = nil
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	tests := []struct {
		args     []string
		wantCode int
		wantOut  string
	}{
		{nil, exitcode.Fail, "certificate signed by an unknown authority"},
		{[]string{"--ca-file", ca}, exitcode.Pass, "PASS"},
		{[]string{"--insecure"}, exitcode.Pass, "PASS"},
	}
	for _, tt := range tests {
		code, out, errOut := invoke(t, nil, append([]string{"health", "--endpoint", srv.URL, "--retries", "0"}, tt.args...)...)
		if code != tt.wantCode {
			t.Errorf("%v: exit %d, want %d\n%s%s", tt.args, code, tt.wantCode, out, errOut)
		}
		contains(t, "stdout", out, tt.wantOut)
	}
}

func contains(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s %q does not contain %q", what, got, w)
		}
	}
}

// Every verb's example under pmguard help VERB names flags the verb has:
// its arguments, with --help after them, parse.
func TestHelpExamplesParse(t *testing.T) {
	a := &app{}
	for name, v := range a.verbs() {
		fields := strings.Fields(v.example)
		for len(fields) > 0 && strings.Contains(fields[0], "=") {
			fields = fields[1:] // TOKEN=... before the command
		}
		if len(fields) < 2 || fields[0] != "pmguard" || fields[1] != name {
			t.Errorf("%s: example %q does not start with pmguard %s", name, v.example, name)
			continue
		}
		args := append(fields[1:], "--help")
		for i, f := range args {
			args[i] = strings.Trim(f, "'")
		}
		if code, _, errOut := invoke(t, nil, args...); code != 0 {
			t.Errorf("%s: example %q: exit %d: %s", name, v.example, code, errOut)
		}
	}
}

// TestMissingFilesAreBadInput: a file a setting names that is not there is
// bad input naming the setting's flag and env var, before any request.
func TestMissingFilesAreBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, c := range []struct {
		verb string
		args []string
		want string
	}{
		{"postmortem", []string{"--event-log", missing}, "PMGUARD_POSTMORTEM_EVENT_LOGS"},
		{"postmortem", []string{"--incident-file", missing}, "PMGUARD_POSTMORTEM_INCIDENT_FILE"},
		{"followups", []string{"--incident-file", missing, "--github-repo", "acme/shop"}, "PMGUARD_FOLLOWUPS_INCIDENT_FILE"},
	} {
		code, stdout, stderr := invoke(t, map[string]string{"PMGUARD_POSTMORTEM_OUTPUT_DIR": t.TempDir()}, append([]string{c.verb}, c.args...)...)
		if code != exitcode.BadInput || !strings.Contains(stderr, c.want) || !strings.Contains(stderr, c.args[0]) {
			t.Errorf("%s %v: exit %d, want 2 naming %s and %s:\n%s%s", c.verb, c.args, code, c.args[0], c.want, stdout, stderr)
		}
	}
}

// TestDoraRanges: a window or a series past any report's reach is bad input
// naming the setting and its range, before any request.
func TestDoraRanges(t *testing.T) {
	for _, c := range []struct{ args []string }{
		{[]string{"--window", "100000d"}}, {[]string{"--window", "0d"}},
		{[]string{"--months", "1000"}}, {[]string{"--months", "0"}},
	} {
		code, stdout, stderr := invoke(t, map[string]string{"CIRCLE_TOKEN": "x"}, append([]string{"dora", "--project-slug", "gh/acme/api"}, c.args...)...)
		if code != exitcode.BadInput || !strings.Contains(stderr, c.args[0]) || !strings.Contains(stderr, "accepted:") {
			t.Errorf("%v: exit %d\n%s%s", c.args, code, stdout, stderr)
		}
	}
}
