package health_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/health"
	"github.com/pmguard/pmguard/internal/verb"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

func validate(env map[string]string, args ...string) (*health.Options, error) {
	o, _, err := validateDeps(env, args...)
	return o, err
}

func validateDeps(env map[string]string, args ...string) (*health.Options, *verb.Deps, error) {
	d := verbtest.Deps(env, nil, nil)
	o, err := health.New(context.Background(), d, args)
	return o, d, err
}

func TestEndpointList(t *testing.T) {
	tests := []struct {
		name  string
		env   string
		flags []string
		want  []string // URL + " " + expected statuses
	}{
		{"one per line with statuses", "https://a.example/health 200\n  https://b.example/db/health 204  \n\n# staging\nhttps://c.example/x",
			nil, []string{"https://a.example/health 200", "https://b.example/db/health 204", "https://c.example/x 2xx"}},
		{"comma separated", "https://a.example/h, https://b.example/h 404,http://c.example/h",
			nil, []string{"https://a.example/h 2xx", "https://b.example/h 404", "http://c.example/h 2xx"}},
		{"a status list keeps its commas", "https://a.example/h 200,204, https://b.example/h 200-299",
			nil, []string{"https://a.example/h 200,204", "https://b.example/h 200-299"}},
		{"flags override the env var", "https://env.example/h", []string{"--endpoint", "https://flag.example/h 503", "--endpoint", "https://flag2.example/h"},
			[]string{"https://flag.example/h 503", "https://flag2.example/h 2xx"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := validate(map[string]string{"PMGUARD_HEALTH_ENDPOINTS": tt.env, "PMGUARD_HEALTH_EXPECT_STATUS": "2xx"}, tt.flags...)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range p.Targets {
				got = append(got, e.Name()+" "+e.Expect.String())
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("endpoints\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestPlanDefaults(t *testing.T) {
	p, err := validate(map[string]string{"PMGUARD_HEALTH_ENDPOINTS": "http://x.example/"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Timeout.String() != "5s" || p.Retries != 3 || p.Interval.String() != "10s" || p.Deadline.Duration != 0 ||
		p.SuccessThreshold != 1 || p.Method != "GET" || p.Concurrency != 100 || p.TLS != nil || p.NoFollow ||
		!p.Targets[0].Expect.Contains(200) || p.Targets[0].Expect.Contains(204) {
		t.Errorf("defaults %+v", p)
	}
}

// TestPlanSecrets: values that must never be shown are registered with the
// run's redactor: header values from the environment, URL passwords and
// tokens.
func TestPlanSecrets(t *testing.T) {
	env := map[string]string{
		"PMGUARD_HEALTH_ENDPOINTS": "https://u:pw-1234@a.example/h\nhttps://b.example/h?token=tk-5678&page=2",
		"PMGUARD_HEALTH_HEADERS":   "Authorization: Bearer ${API_TOKEN}\nX-Plain: visible",
		"API_TOKEN":                "at-9999",
	}
	p, d, err := validateDeps(env)
	if err != nil {
		t.Fatal(err)
	}
	// Every query value may be a secret; a value under 4 bytes ("2") is too
	// short to redact without mangling text.
	for _, secret := range []string{"at-9999", "pw-1234", "tk-5678"} {
		if got := d.Redactor.Redact("x " + secret + " x"); got != "x [REDACTED] x" {
			t.Errorf("%s is not redacted: %q", secret, got)
		}
	}
	if p.Header.Get("Authorization") != "Bearer at-9999" || p.Header.Get("X-Plain") != "visible" {
		t.Errorf("headers %v", p.Header)
	}
	for _, e := range p.Targets {
		if n := e.Name(); strings.Contains(n, "pw-1234") || strings.Contains(n, "tk-5678") {
			t.Errorf("endpoint shown as %q", n)
		}
	}
}

// TestValidateRejects covers the rules Validate adds to the decoders; each
// error names the setting, its env var and what is accepted, and never a
// secret.
func TestValidateRejects(t *testing.T) {
	dir := t.TempDir()
	notPEM := writeFile(t, dir, "not.pem", []byte("not a certificate"))
	ca := newCA(t, "ca")
	cert, _ := ca.issueClient(t, dir, "client")
	_, otherKey := ca.issueClient(t, dir, "other")
	base := map[string]string{"PMGUARD_HEALTH_ENDPOINTS": "https://a.example/h", "API_TOKEN": "at-secret-1"}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"header names an unset variable", map[string]string{"PMGUARD_HEALTH_HEADERS": "Authorization: Bearer ${MISSING_TOKEN}"}, nil,
			[]string{"headers", "PMGUARD_HEALTH_HEADERS", "--header", "${MISSING_TOKEN}", "not set"}},
		{"header value holds a newline", map[string]string{"PMGUARD_HEALTH_HEADERS": "X-Api-Key: ${NL_TOKEN}", "NL_TOKEN": "at-secret-1\n"}, nil,
			[]string{"headers", "PMGUARD_HEALTH_HEADERS", "control character"}},
		{"header without a colon", nil, []string{"--header", "Authorization Bearer ${API_TOKEN}"},
			[]string{"headers", "PMGUARD_HEALTH_HEADERS", "'Name: value'"}},
		{"expected status names the orb parameter", nil, []string{"--expect-status", "2xy"}, []string{"expected_status", "PMGUARD_HEALTH_EXPECT_STATUS", "--expect-status"}},
		{"method", nil, []string{"--method", "GE T"}, []string{"method", "PMGUARD_HEALTH_METHOD", "HTTP method"}},
		{"success threshold 0", nil, []string{"--success-threshold", "0"}, []string{"success_threshold", "PMGUARD_HEALTH_SUCCESS_THRESHOLD", "1 or more"}},
		{"concurrency 0", nil, []string{"--concurrency", "0"}, []string{"concurrency", "PMGUARD_HEALTH_CONCURRENCY", "1 or more"}},
		{"timeout 0", nil, []string{"--timeout", "0s"}, []string{"timeout", "PMGUARD_HEALTH_TIMEOUT", "more than 0"}},
		{"CA file not PEM", nil, []string{"--ca-file", notPEM}, []string{"ca_file", "PMGUARD_HEALTH_CA_FILE", "--ca-file", "no PEM certificate", "PEM file of CA certificates"}},
		{"client cert without key", nil, []string{"--client-cert", cert}, []string{"client_key", "PMGUARD_HEALTH_CLIENT_KEY", "both"}},
		{"client key without cert", nil, []string{"--client-key", otherKey}, []string{"invalid client_cert (flag --client-cert, env PMGUARD_HEALTH_CLIENT_CERT)", "both"}},
		{"client key not PEM", nil, []string{"--client-cert", cert, "--client-key", notPEM}, []string{"invalid client_key", "PMGUARD_HEALTH_CLIENT_KEY", "no PEM private key"}},
		{"key of another certificate", nil, []string{"--client-cert", cert, "--client-key", otherKey}, []string{"client_cert", "PMGUARD_HEALTH_CLIENT_CERT", "private key"}},
		{"json path without value", nil, []string{"--json-path", "status"}, []string{"json_path", "PMGUARD_HEALTH_JSON_PATH", "=VALUE"}},
		{"json path bad index", nil, []string{"--json-path", "items[x].state=ok"}, []string{"json_path", "bad index", "PATH=VALUE"}},
		{"json path empty", nil, []string{"--json-path", "=ok"}, []string{"json_path", "empty path"}},
		{"body regex", nil, []string{"--body-regex", "(unclosed"}, []string{"body_regex", "PMGUARD_HEALTH_BODY_REGEX", "RE2"}},
		{"endpoint status", nil, []string{"--endpoint", "https://a.example/h 2xy"}, []string{"endpoints", "PMGUARD_HEALTH_ENDPOINTS", `"2xy" is not a status code`, "URL per line"}},
		{"redirect status while following redirects", nil, []string{"--expect-status", "301"}, []string{"expected_status", "PMGUARD_HEALTH_EXPECT_STATUS", "no_follow_redirects"}},
		{"endpoint's redirect status while following", nil, []string{"--endpoint", "https://a.example/h 301,302"}, []string{"endpoints", "PMGUARD_HEALTH_ENDPOINTS", "no_follow_redirects"}},
		{"endpoint scheme", nil, []string{"--endpoint", "ftp://a.example/h"}, []string{"endpoints", "scheme must be http or https"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			_, err := validate(env, tt.args...)
			var ie *config.InputError
			if !errors.As(err, &ie) {
				t.Fatalf("err = %v, want an InputError", err)
			}
			contains(t, "error", err.Error(), tt.want...)
			if strings.Contains(err.Error(), "at-secret-1") || strings.Contains(err.Error(), "not a certificate") {
				t.Errorf("error shows a secret or a file's contents: %v", err)
			}
		})
	}
}
