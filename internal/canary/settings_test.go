package canary

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

func load(t *testing.T, env map[string]string, args ...string) (*Options, error) {
	t.Helper()
	return newWith(context.Background(), verbtest.Deps(env, nil, nil), args, httpx.Options{Retries: -1})
}

// TestBadInput: every bad value is exit 2 with a message naming the
// setting, and no request reaches the (counting) server.
func TestBadInput(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	url := srv.URL
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string // in the message
	}{
		{"threshold over 100%", nil, []string{"--url", url, "--error-threshold", "120%"}, "PMGUARD_CANARY_ERROR_THRESHOLD"},
		{"threshold 0", nil, []string{"--url", url, "--error-threshold", "0%"}, "error_threshold"},
		{"negative latency", map[string]string{"PMGUARD_CANARY_URL": url, "PMGUARD_CANARY_LATENCY_THRESHOLD": "-1ms"}, nil, "PMGUARD_CANARY_LATENCY_THRESHOLD"},
		{"unknown percentile", nil, []string{"--url", url, "--latency-percentile", "p97"}, `"p50", "p90", "p95", "p99"`},
		{"alpha too big", nil, []string{"--url", url, "--alpha", "50%"}, "PMGUARD_CANARY_ALPHA"},
		{"alpha zero", nil, []string{"--url", url, "--alpha", "0"}, "alpha"},
		{"beta too big", nil, []string{"--url", url, "--beta", "0.7"}, "beta"},
		{"healthy above threshold", nil, []string{"--url", url, "--healthy-error-rate", "3%"}, "healthy_error_rate"},
		{"unknown source", nil, []string{"--source", "graphite"}, "PMGUARD_CANARY_SOURCE"},
		{"probe without url", nil, nil, "PMGUARD_CANARY_URL"},
		{"bad rate", nil, []string{"--url", url, "--rate", "-3"}, "rate"},
		{"percentage over 100", nil, []string{"--url", url, "--percentage", "120"}, "percentage"},
		{"unknown rate unit", nil, []string{"--url", url, "--rate", "10/h"}, "PMGUARD_CANARY_RATE"},
		{"bad on_inconclusive", nil, []string{"--url", url, "--on-inconclusive", "maybe"}, "on_inconclusive"},
		{"zero max_duration", nil, []string{"--url", url, "--max-duration", "0s"}, "max_duration"},
		{"timeout past max_duration", nil, []string{"--url", url, "--max-duration", "2s", "--timeout", "30s"}, "must be less than max_duration 2s"},
		{"timeout as long as max_duration", map[string]string{"PMGUARD_CANARY_TIMEOUT": "2s"}, []string{"--url", url, "--max-duration", "2s"}, "PMGUARD_CANARY_TIMEOUT"},
		{"default timeout past a short max_duration", nil, []string{"--url", url, "--max-duration", "3s"}, "--timeout"},
		{"header without colon", nil, []string{"--url", url, "--header", "X-Token secret"}, "headers"},
		{"header names an unset variable", nil, []string{"--url", url, "--header", "Authorization: Bearer ${MISSING_TOKEN}"}, "${MISSING_TOKEN}"},
		{"header value holds a newline", map[string]string{"NL_TOKEN": "tok-1234\n"}, []string{"--url", url, "--header", "X-Api-Key: ${NL_TOKEN}"}, "control character"},
		{"ca_file not PEM", nil, []string{"--url", url, "--ca-file", "settings_test.go"}, "ca_file"},
		{"prometheus without url", nil, []string{"--source", "prometheus", "--canary-selector", `{app="api"}`}, "PMGUARD_CANARY_PROMETHEUS_URL"},
		{"prometheus without selector", nil, []string{"--source", "prometheus", "--prometheus-url", url}, "PMGUARD_CANARY_CANARY_SELECTOR"},
		{"bad selector", nil, []string{"--source", "prometheus", "--prometheus-url", url, "--canary-selector", `{app=api`}, "canary_selector"},
		{"unbalanced query", nil, []string{"--source", "prometheus", "--prometheus-url", url, "--canary-selector", `{app="api"}`, "--error-query", "sum(rate(x[1m])"}, "error_query"},
		{"token env empty", nil, []string{"--source", "prometheus", "--prometheus-url", url, "--canary-selector", `{app="api"}`, "--prometheus-token-env", "PROM_TOKEN"}, "PROM_TOKEN"},
		{"interval too short", nil, []string{"--source", "prometheus", "--prometheus-url", url, "--canary-selector", `{app="api"}`, "--interval", "10ms"}, "interval"},
		{"datadog without keys", nil, []string{"--source", "datadog", "--canary-selector", "service:api"}, "DD_API_KEY"},
		{"datadog bad site", map[string]string{"DD_API_KEY": "k1234", "DD_APP_KEY": "a1234", "DD_SITE": "not a site"}, []string{"--source", "datadog", "--canary-selector", "service:api"}, "site"},
		{"datadog site from its env var", map[string]string{"DD_API_KEY": "k1234", "DD_APP_KEY": "a1234", "DD_SITE": "not a site"}, []string{"--source", "datadog", "--canary-selector", "service:api"}, "dd_site_env"},
		{"datadog API URL without a host", map[string]string{"DD_API_KEY": "k1234", "DD_APP_KEY": "a1234"}, []string{"--source", "datadog", "--canary-selector", "service:api", "--dd-site", "https://"}, "--dd-site"},
		{"baseline_url with prometheus", nil, []string{"--source", "prometheus", "--prometheus-url", url, "--canary-selector", `{app="api"}`, "--baseline-url", url}, "baseline_url"},
		// The latency test's hypotheses mean nothing without its threshold:
		// silently ignoring them would hide a forgotten latency_threshold.
		{"latency_pass_share without latency_threshold", nil, []string{"--url", url, "--latency-pass-share", "5%"}, "without latency_threshold"},
		{"latency_fail_share without latency_threshold", map[string]string{"PMGUARD_CANARY_LATENCY_FAIL_SHARE": "10%"}, []string{"--url", url}, "PMGUARD_CANARY_LATENCY_FAIL_SHARE"},
		// 0% is no share; empty is the default.
		{"latency_pass_share 0%", nil, []string{"--url", url, "--latency-threshold", "300ms", "--latency-pass-share", "0%"}, "latency_pass_share"},
		{"healthy_error_rate 0", nil, []string{"--url", url, "--healthy-error-rate", "0"}, "PMGUARD_CANARY_HEALTHY_ERROR_RATE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.env, tc.args...)
			if exitcode.Of(err) != exitcode.BadInput {
				t.Fatalf("exit %d (%v), want 2", exitcode.Of(err), err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("message %q does not mention %q", err, tc.want)
			}
		})
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("bad input sent %d requests", n)
	}
}

func TestSettingsDefaults(t *testing.T) {
	p, err := load(t, map[string]string{"PMGUARD_CANARY_URL": "http://127.0.0.1:1/"})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Criteria
	if p.Rate != 10 || c.ErrorThreshold != 0.02 || c.healthy() != 0.01 || c.Alpha != 0.01 || c.Beta != 0.05 ||
		c.Quantile != 0.95 || p.OnInconclusive != "fail" || p.MaxDuration.Duration != 10*time.Minute || c.Latency != 0 || c.Baseline {
		t.Errorf("defaults: %+v %+v", p, c)
	}
	// Flags override env; empty env means the default.
	p, err = load(t, map[string]string{"PMGUARD_CANARY_URL": "http://127.0.0.1:1/", "PMGUARD_CANARY_RATE": "600/m", "PMGUARD_CANARY_ALPHA": ""}, "--rate", "20/s")
	if err != nil || p.Rate != 20 || p.Criteria.Alpha != 0.01 {
		t.Errorf("rate %v alpha %v err %v", p.Rate, p.Criteria.Alpha, err)
	}
}

// TestSecretsStayHidden runs a probe with a header read from the
// environment and a failing canary that echoes it, and checks the secret
// reaches none of stdout, the reports, the event log or the error.
func TestSecretsStayHidden(t *testing.T) {
	const secret = "s3cr3t-token-value"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(500)
		io.WriteString(w, r.Header.Get("Authorization"))
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{"API_TOKEN": secret}
	p, err := load(t, env, "--url", srv.URL+"/?token="+secret, "--header", "Authorization: Bearer ${API_TOKEN}", "--rate", "50")
	if err != nil {
		t.Fatal(err)
	}
	if p.Header.Get("Authorization") != "Bearer "+secret {
		t.Fatalf("header not expanded: %q", p.Header.Get("Authorization"))
	}
	dir := t.TempDir()
	log, _ := p.d.Events(dir + "/events.jsonl")
	p.events = log
	var out strings.Builder
	err = p.testRun(&syncWriter{w: &out}, nil, config.Reports{JSON: dir + "/r.json", JUnit: dir + "/r.xml"})
	if exitcode.Of(err) != exitcode.Fail {
		t.Fatalf("exit %d: %v", exitcode.Of(err), err)
	}
	all := out.String() + err.Error()
	for _, f := range []string{"events.jsonl", "r.json", "r.xml"} {
		b, _ := os.ReadFile(dir + "/" + f)
		if len(b) == 0 {
			t.Errorf("%s is empty", f)
		}
		all += string(b)
	}
	if strings.Contains(all, secret) {
		t.Errorf("the secret leaked:\n%s", all)
	}
	if !strings.Contains(all, "status 500") {
		t.Errorf("output lacks the figures:\n%s", out.String())
	}
}

// TestStatisticsSettings: the latency hypotheses and the stall allowance,
// as the orb passes them (PMGUARD_CANARY_* env vars, empty for defaults),
// reach the judge; bad values name the orb parameter.
func TestStatisticsSettings(t *testing.T) {
	env := func(kv ...string) map[string]string {
		m := map[string]string{"PMGUARD_CANARY_URL": "http://127.0.0.1:1/", "PMGUARD_CANARY_LATENCY_THRESHOLD": "300ms",
			"PMGUARD_CANARY_LATENCY_PASS_SHARE": "", "PMGUARD_CANARY_LATENCY_FAIL_SHARE": "", "PMGUARD_CANARY_STALL_ALLOWANCE": ""}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	p, err := load(t, env())
	if err != nil {
		t.Fatal(err)
	}
	if pass, fail := p.Criteria.latencyShares(); math.Abs(pass-0.05) > 1e-12 || math.Abs(fail-0.1) > 1e-12 || p.Criteria.RunCap != 10 {
		t.Errorf("defaults for p95 at 10/s: pass %v fail %v run cap %d", pass, fail, p.Criteria.RunCap)
	}
	p, err = load(t, env("PMGUARD_CANARY_LATENCY_PASS_SHARE", "1%", "PMGUARD_CANARY_LATENCY_FAIL_SHARE", "0.03",
		"PMGUARD_CANARY_STALL_ALLOWANCE", "2s", "PMGUARD_CANARY_RATE", "20"))
	if err != nil {
		t.Fatal(err)
	}
	if pass, fail := p.Criteria.latencyShares(); pass != 0.01 || fail != 0.03 || p.Criteria.RunCap != 40 {
		t.Errorf("set: pass %v fail %v run cap %d", pass, fail, p.Criteria.RunCap)
	}
	// The judge holds the canary to them: 2% slow fails against pass 1% /
	// fail 3%, and passes under the defaults.
	ss := samples(3000, 0, 10*time.Millisecond)
	for i := 49; i < len(ss); i += 50 {
		ss[i].Latency = time.Second
	}
	j := NewJudge(p.Criteria)
	if j.Add(Batch{Canary: Obs{Samples: ss}}) != Failed {
		t.Errorf("2%% slow against latency_fail_share 3%%: %s", j.Evidence().Reason)
	}
	p, _ = load(t, env("PMGUARD_CANARY_STALL_ALLOWANCE", "0"))
	if p.Criteria.RunCap != 0 {
		t.Errorf("stall_allowance 0: run cap %d", p.Criteria.RunCap)
	}
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{env("PMGUARD_CANARY_LATENCY_PASS_SHARE", "10%", "PMGUARD_CANARY_LATENCY_FAIL_SHARE", "5%"), []string{"latency_fail_share", "PMGUARD_CANARY_LATENCY_FAIL_SHARE", "above latency_pass_share"}},
		{env("PMGUARD_CANARY_LATENCY_PASS_SHARE", "100%"), []string{"latency_pass_share", "--latency-pass-share"}},
		{env("PMGUARD_CANARY_STALL_ALLOWANCE", "soon"), []string{"stall_allowance", "PMGUARD_CANARY_STALL_ALLOWANCE"}},
	} {
		_, err := load(t, tc.env)
		if exitcode.Of(err) != 2 {
			t.Errorf("%v: exit %d (%v), want 2", tc.env, exitcode.Of(err), err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not name %s", err, w)
			}
		}
	}
}

// TestAnotherSourcesSettings: a setting only another source reads is never
// dropped silently. One that says the source itself is wrong (a
// Prometheus URL with the probe, a URL to probe with Datadog) is exit 2
// naming it; tuning left over from another source (the probe's rate with
// Prometheus) is a warning naming it. The orb's defaults are neither.
func TestAnotherSourcesSettings(t *testing.T) {
	const url = "http://127.0.0.1:1/"
	prom := []string{"--source", "prometheus", "--prometheus-url", url, "--canary-selector", `{app="api"}`}
	dd := map[string]string{"DD_API_KEY": "k1234", "DD_APP_KEY": "a1234"}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want []string
	}{
		{"prometheus_url with the probe", nil, []string{"--url", url, "--prometheus-url", url}, []string{"prometheus_url", "--prometheus-url", "PMGUARD_CANARY_PROMETHEUS_URL", "the source is probe"}},
		{"prometheus_url instead of url", nil, []string{"--prometheus-url", url, "--canary-selector", `{app="api"}`}, []string{"prometheus_url is for source prometheus"}},
		{"canary_selector with the probe", map[string]string{"PMGUARD_CANARY_CANARY_SELECTOR": `{app="api"}`}, []string{"--url", url}, []string{"PMGUARD_CANARY_CANARY_SELECTOR", "source prometheus or datadog"}},
		{"error_query with the probe", nil, []string{"--url", url, "--error-query", "sum(x)"}, []string{"error_query"}},
		{"datadog site with prometheus", nil, append(prom, "--dd-site", "datadoghq.eu"), []string{"dd_site", "--dd-site", "PMGUARD_CANARY_DD_SITE", "the source is prometheus"}},
		{"datadog key env with prometheus", map[string]string{"PMGUARD_CANARY_DD_API_KEY_ENV": "MY_DD_KEY"}, prom, []string{"dd_api_key_env"}},
		{"prometheus token with datadog", dd, []string{"--source", "datadog", "--canary-selector", "service:api", "--prometheus-token-env", "PROM_TOKEN"}, []string{"prometheus_token_env", "the source is datadog"}},
		{"url with datadog", dd, []string{"--source", "datadog", "--canary-selector", "service:api", "--url", url}, []string{"--url", "PMGUARD_CANARY_URL", "url is for source probe"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.env, tc.args...)
			if exitcode.Of(err) != exitcode.BadInput {
				t.Fatalf("exit %d (%v), want 2", exitcode.Of(err), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message %q does not mention %q", err, w)
				}
			}
		})
	}

	// Leftover tuning: a warning each, and the run goes on.
	warned := func(env map[string]string, args ...string) string {
		t.Helper()
		var stderr strings.Builder
		_, err := newWith(context.Background(), verbtest.Deps(env, nil, &stderr), args, httpx.Options{Retries: -1})
		if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return stderr.String()
	}
	got := warned(map[string]string{"PMGUARD_CANARY_HEADERS": "X-A: 1"}, append(prom, "--rate", "50", "--insecure")...)
	for _, w := range []string{
		"warning: rate (flag --rate, env PMGUARD_CANARY_RATE) is ignored: it is a setting of source probe, and the source is prometheus",
		"warning: headers (flag --header, env PMGUARD_CANARY_HEADERS) is ignored",
		"warning: insecure (flag --insecure, env PMGUARD_CANARY_INSECURE) is ignored",
	} {
		if !strings.Contains(got, w) {
			t.Errorf("warnings %q lack %q", got, w)
		}
	}
	if got := warned(nil, "--url", url, "--interval", "10s"); !strings.Contains(got, "interval (flag --interval, env PMGUARD_CANARY_INTERVAL) is ignored: it is a setting of source prometheus or datadog, and the source is probe") {
		t.Errorf("warnings %q", got)
	}
	if got := warned(nil, "--url", url, "--baseline-margin", "20%"); !strings.Contains(got, "baseline_margin (flag --baseline-margin, env PMGUARD_CANARY_BASELINE_MARGIN) is ignored") {
		t.Errorf("warnings %q", got)
	}
	if got := warned(nil, "--url", url, "--baseline-url", url, "--baseline-margin", "20%"); got != "" {
		t.Errorf("warnings with a baseline %q", got)
	}
	if got := warned(nil, "--url", url, "--mode", "shadow", "--on-inconclusive", "hold"); !strings.Contains(got, "on_inconclusive (flag --on-inconclusive, env PMGUARD_CANARY_ON_INCONCLUSIVE) is ignored: mode is shadow") {
		t.Errorf("warnings %q", got)
	}
	if got := warned(nil, "--url", url, "--mode", "shadow"); got != "" {
		t.Errorf("warnings in shadow mode at the default on_inconclusive %q", got)
	}
	// Every parameter at the orb's default, as canary_check passes them:
	// nothing to say.
	orbDefaults := map[string]string{"PMGUARD_CANARY_URL": url, "PMGUARD_CANARY_RATE": "10", "PMGUARD_CANARY_CONCURRENCY": "50",
		"PMGUARD_CANARY_EXPECT_STATUS": "2xx", "PMGUARD_CANARY_METHOD": "GET", "PMGUARD_CANARY_INSECURE": "false", "PMGUARD_CANARY_INTERVAL": "30s",
		"PMGUARD_CANARY_SOURCE_ERROR_LIMIT": "3", "PMGUARD_CANARY_DD_API_KEY_ENV": "DD_API_KEY", "PMGUARD_CANARY_DD_APP_KEY_ENV": "DD_APP_KEY",
		"PMGUARD_CANARY_DD_SITE_ENV": "DD_SITE", "PMGUARD_CANARY_STALL_ALLOWANCE": "1s", "PMGUARD_CANARY_PROMETHEUS_URL": ""}
	if got := warned(orbDefaults); got != "" {
		t.Errorf("warnings at the defaults: %q", got)
	}
	orbDefaults["PMGUARD_CANARY_URL"] = ""
	if got := warned(orbDefaults, prom...); got != "" {
		t.Errorf("warnings at the defaults, prometheus: %q", got)
	}
}

// TestPercentForms: a percentage setting's message names what that
// setting accepts, whether the value does not parse or is out of its range.
func TestPercentForms(t *testing.T) {
	const url = "http://127.0.0.1:1/"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--error-threshold", "120%"}, "accepted: a percentage such as 2% or 0.02, above 0% and below 100%"},
		{[]string{"--error-threshold", "two"}, "accepted: a percentage such as 2% or 0.02, above 0% and below 100%"},
		{[]string{"--error-threshold", "100%"}, "accepted: a percentage such as 2% or 0.02, above 0% and below 100%"},
		{[]string{"--alpha", "x"}, "accepted: a percentage such as 1% or 0.01, above 0% and below 50%"},
		{[]string{"--alpha", "60%"}, "accepted: a percentage such as 1% or 0.01, above 0% and below 50%"},
		{[]string{"--beta", "-1%"}, "accepted: a percentage such as 5% or 0.05, above 0% and below 50%"},
		{[]string{"--healthy-error-rate", "0"}, "accepted: a percentage above 0% and below error_threshold, such as 1% or 0.01; empty for half of error_threshold"},
		{[]string{"--healthy-error-rate", "3%"}, "accepted: a percentage above 0% and below error_threshold"},
		{[]string{"--latency-threshold", "1s", "--latency-pass-share", "100%"}, "accepted: a percentage above 0% and below 100%, such as 5% or 0.05; empty for the default"},
		{[]string{"--latency-threshold", "1s", "--latency-fail-share", "abc"}, "accepted: a percentage above 0% and below 100%, such as 10% or 0.1; empty for the default"},
	} {
		_, err := load(t, nil, append([]string{"--url", url}, tc.args...)...)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: exit %d: %v\nwant %q", tc.args, exitcode.Of(err), err, tc.want)
		}
	}
}
