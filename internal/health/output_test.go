package health_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/health"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// attemptLine is the per-attempt line: time, verdict, endpoint, status,
// latency, attempt n/max, then any note and reason.
var attemptLine = regexp.MustCompile(`^\d{2}:\d{2}:\d{2}\.\d{3} (ok  |FAIL) (\S+) (\d{3}|---) +(\S+)  attempt (\d+)/(\d+)(  .*)?$`)

func TestOutputLines(t *testing.T) {
	good := &statuses{codes: []int{200}}
	flaky := &statuses{codes: []int{503, 200, 200}}
	bad := &statuses{codes: []int{500}}
	g, f, b := serve(t, good).URL+"/ok", serve(t, flaky).URL+"/flaky", serve(t, bad).URL+"/bad"
	o := check(t, nil, "--endpoint", g, "--endpoint", f, "--endpoint", b, "--retries", "2", "--success-threshold", "2", "--interval", "3s", "--timeout", "2s")
	lines := strings.Split(strings.TrimRight(o.out, "\n"), "\n")
	if want := "pmguard health: 3 endpoint(s), up to 4 attempt(s) each, 3s apart, 2s per request"; lines[0] != want {
		t.Errorf("first line %q, want %q", lines[0], want)
	}
	// One line per attempt, as they happen.
	perEndpoint := map[string][]string{}
	for _, l := range lines[1:] {
		if l == "" {
			break
		}
		m := attemptLine.FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("not an attempt line: %q", l)
		}
		if m[6] != "4" {
			t.Errorf("max attempts in %q, want 4", l)
		}
		perEndpoint[m[2]] = append(perEndpoint[m[2]], l)
	}
	if n := len(perEndpoint[g]); n != 2 {
		t.Errorf("%d lines for %s, want 2", n, g)
	}
	if n := len(perEndpoint[f]); n != 3 {
		t.Errorf("%d lines for %s, want 3", n, f)
	}
	if n := len(perEndpoint[b]); n != 3 { // 3 failures: 2 passes in a row no longer possible
		t.Errorf("%d lines for %s, want 3", n, b)
	}
	contains(t, "passing line", perEndpoint[g][1], "ok   "+g+" 200", "attempt 2/4", "(2/2 in a row)")
	contains(t, "failing line", perEndpoint[b][0], "FAIL "+b+" 500", "attempt 1/4", "status 500, want 200")

	// Then a summary table, failures first.
	i := strings.Index(o.out, "\nENDPOINT")
	if i < 0 {
		t.Fatalf("no summary table:\n%s", o.out)
	}
	table := strings.Split(strings.TrimRight(o.out[i+1:], "\n"), "\n")
	if !regexp.MustCompile(`^ENDPOINT +RESULT +STATUS +ATTEMPTS +LATENCY +TIME +REASON$`).MatchString(table[0]) {
		t.Errorf("table header %q", table[0])
	}
	if len(table) != 4 {
		t.Fatalf("table:\n%s", strings.Join(table, "\n"))
	}
	if !regexp.MustCompile(`^` + regexp.QuoteMeta(b) + ` +FAIL +500 +3 +\S+ +\S+ +status 500, want 200 after 3 attempt\(s\)$`).MatchString(table[1]) {
		t.Errorf("failing row %q", table[1])
	}
	for _, row := range table[2:] {
		if !strings.Contains(row, " pass ") {
			t.Errorf("row %q should be a pass after the failures", row)
		}
	}
	if o.code != exitcode.Fail || strings.Contains(o.out, "PASS:") {
		t.Errorf("exit %d; a failing run must not print PASS", o.code)
	}
	contains(t, "verdict", o.err.Error(), "1 of 3 endpoint(s) failed: "+b+" (status 500, want 200 after 3 attempt(s), for ")

	// A passing run ends with a PASS line.
	o = check(t, nil, "--endpoint", g)
	if !strings.HasSuffix(o.out, "\nPASS: 1 endpoint(s) healthy in 0s\n") {
		t.Errorf("passing run ends %q", o.out[max(0, len(o.out)-80):])
	}
}

func TestReportsAndEvents(t *testing.T) {
	good := &statuses{codes: []int{200}}
	bad := &statuses{codes: []int{503}}
	g, b := serve(t, good).URL+"/health", serve(t, bad).URL+"/db/health"
	env := map[string]string{
		"CIRCLE_PIPELINE_ID": "pl-123", "CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/api/9",
		"PMGUARD_HEALTH_ENDPOINTS": g + " 200\n" + b,
		"PMGUARD_HEALTH_RETRIES":   "1",
	}
	o := check(t, env)
	if o.code != exitcode.Fail {
		t.Fatalf("exit %d", o.code)
	}

	// JSON report: the verdict and every attempt.
	if o.result.Pass || o.result.Passed != 1 || o.result.Failed != 1 || len(o.result.Endpoints) != 2 {
		t.Errorf("JSON verdict %+v", o.result)
	}
	if e := o.result.Endpoints[1]; e.URL != b || e.Pass || e.Expect != "200" || len(e.Attempts) != 2 || e.Reason == "" {
		t.Errorf("JSON endpoint %+v", e)
	}
	var raw map[string]any
	json.Unmarshal(o.json, &raw)
	for _, k := range []string{"pass", "started", "elapsed_ms", "passed", "failed", "endpoints"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("JSON report lacks %q", k)
		}
	}

	// JUnit: one test case per endpoint, a failure for the failed one.
	var doc struct {
		Suites []struct {
			Name     string `xml:"name,attr"`
			Tests    int    `xml:"tests,attr"`
			Failures int    `xml:"failures,attr"`
			Cases    []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
				} `xml:"failure"`
				Out string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(o.junit, &doc); err != nil {
		t.Fatalf("JUnit: %v\n%s", err, o.junit)
	}
	s := doc.Suites[0]
	if s.Name != "pmguard health" || s.Tests != 2 || s.Failures != 1 || len(s.Cases) != 2 {
		t.Fatalf("JUnit suite %+v", s)
	}
	if c := s.Cases[0]; c.Name != g || c.Failure != nil {
		t.Errorf("JUnit case 1 %+v", c)
	}
	if c := s.Cases[1]; c.Name != b || c.Failure == nil || c.Failure.Message != o.result.Endpoints[1].Reason || strings.Count(c.Out, "attempt ") != 2 ||
		!strings.Contains(c.Out, " attempt 2: status 503, 0.0 ms: status 503, want 200") {
		t.Errorf("JUnit case 2 %+v", c)
	}
	// An attempt without an answer says so.
	o2 := check(t, nil, "--endpoint", "http://"+freeAddr(t), "--retries", "0")
	if !strings.Contains(string(o2.junit), " attempt 1: no response, 0.0 ms: connection refused") {
		t.Errorf("JUnit system-out:\n%s", o2.junit)
	}

	// Event log: started, one per endpoint, then the verdict with figures.
	var names []string
	for _, e := range o.events {
		names = append(names, e.Event)
		if e.Verb != "health" || e.PipelineID != "pl-123" || e.JobURL != "https://circleci.com/gh/acme/api/9" || e.Time.IsZero() {
			t.Errorf("event %+v lacks its context", e)
		}
	}
	if got := strings.Join(names, ","); got != "health_started,endpoint_passed,endpoint_failed,health_failed" {
		t.Fatalf("events %s", got)
	}
	num := func(v any) float64 { f, _ := v.(float64); return f }
	if num(o.events[0].Figures["endpoints"]) != 2 {
		t.Errorf("health_started figures %v", o.events[0].Figures)
	}
	ep := o.events[2]
	if ep.Target != b || ep.Message != o.result.Endpoints[1].Reason || num(ep.Figures["attempts"]) != 2 || num(ep.Figures["status"]) != 503 || ep.Figures["expect_status"] != "200" {
		t.Errorf("endpoint_failed %+v", ep)
	}
	for _, k := range []string{"latency_ms", "elapsed_s"} {
		if _, ok := ep.Figures[k]; !ok {
			t.Errorf("endpoint_failed lacks figure %s", k)
		}
	}
	last := o.events[3]
	if num(last.Figures["endpoints"]) != 2 || num(last.Figures["passed"]) != 1 || num(last.Figures["failed"]) != 1 ||
		fmt.Sprint(last.Figures["failing_endpoints"]) != "["+b+"]" || !strings.Contains(last.Message, b) {
		t.Errorf("health_failed %+v", last)
	}

	// A passing run ends with health_passed.
	o = check(t, nil, "--endpoint", g)
	if e := o.events[len(o.events)-1]; e.Event != "health_passed" || num(e.Figures["passed"]) != 1 || num(e.Figures["failed"]) != 0 {
		t.Errorf("last event %+v", e)
	}
}

// A report path that cannot be written is bad input, found before the
// check sends its first request.
func TestReportPathCheckedBeforeAnyRequest(t *testing.T) {
	var hits atomic.Int32
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	file := writeFile(t, t.TempDir(), "a-file", nil)
	for _, r := range []config.Reports{{JSON: file + "/sub/report.json"}, {JUnit: file + "/sub/junit.xml"}} {
		args := []string{"--endpoint", srv.URL, "--json", r.JSON, "--junit", r.JUnit}
		_, err := health.New(context.Background(), verbtest.Deps(nil, nil, nil), args)
		if code := exitcode.Of(err); code != exitcode.BadInput || !strings.Contains(fmt.Sprint(err), "a-file") || !strings.Contains(fmt.Sprint(err), "PMGUARD_HEALTH_") {
			t.Errorf("%+v: exit %d (%v), want 2 naming the path and its env var", r, code, err)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("%d requests were sent although no report could be written", hits.Load())
	}
}

// TestReportWriteFailureIsCouldNotRun: a report that passed the check but
// cannot be written when the verdict is in makes the run exit 3.
func TestReportWriteFailureIsCouldNotRun(t *testing.T) {
	srv := serve(t, &statuses{codes: []int{200}})
	file := writeFile(t, t.TempDir(), "a-file", nil)
	for _, r := range []config.Reports{{JSON: file + "/sub/report.json"}, {JUnit: file + "/sub/junit.xml"}} {
		o, err := health.New(context.Background(), verbtest.Deps(nil, nil, nil), []string{"--endpoint", srv.URL})
		if err != nil {
			t.Fatal(err)
		}
		o.Reports = r // the path breaks after the check
		err = health.Run(context.Background(), o)
		if code := exitcode.Of(err); code != exitcode.CouldNotRun || !strings.Contains(fmt.Sprint(err), "a-file") {
			t.Errorf("%+v: exit %d (%v), want 3 naming the path", r, code, err)
		}
	}
}

// TestSecretsNeverShown: a header value taken from the environment, and a
// URL's password and token, appear in no output, report or event.
func TestSecretsNeverShown(t *testing.T) {
	const token = "tok-Sup3rSecret-value"
	got := make(chan string, 4)
	echo := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		// A health page that echoes the credential and its URL back, as some do.
		fmt.Fprintf(w, `{"auth":%q}`, r.Header.Get("Authorization")+" "+r.URL.RequestURI())
	}))
	refused := "http://deploy:pw-Hunter22@" + freeAddr(t) + "/health?token=q-T0ken-val&region=eu"
	env := map[string]string{
		"API_TOKEN":              token,
		"PMGUARD_HEALTH_HEADERS": "Authorization: Bearer ${API_TOKEN}",
	}
	o := check(t, env, "--endpoint", echo.URL+"/health?api_key=k-Qu3ry-secret", "--endpoint", refused, "--json-path", "auth=Bearer something-else", "--retries", "0")
	if h := <-got; h != "Bearer "+token {
		t.Errorf("the server got Authorization %q, want the expanded value", h)
	}
	if o.code != exitcode.Fail {
		t.Fatalf("exit %d", o.code)
	}
	// The echo endpoint's reason quotes the body: it must show the redaction.
	contains(t, "reason", o.result.Endpoints[0].Attempts[0].Reason, `JSON auth = "Bearer [REDACTED] /health?api_key=[REDACTED]"`)
	contains(t, "shown URL", o.result.Endpoints[1].URL, "REDACTED@", "token=REDACTED", "region=REDACTED")
	for name, text := range map[string]string{
		"stdout": o.out, "verdict": o.err.Error(), "JSON report": string(o.json),
		"JUnit report": string(o.junit), "event log": string(o.log),
	} {
		for _, secret := range []string{token, "pw-Hunter22", "q-T0ken-val", "k-Qu3ry-secret"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s shows %q:\n%s", name, secret, text)
			}
		}
	}
}

// TestQuotedValueNeverCutsASecret: a JSON check's failure quotes the
// server's value, cut short. A secret the server echoes across the cut is
// hidden whole, not cut into a part the redactor no longer recognises.
func TestQuotedValueNeverCutsASecret(t *testing.T) {
	const token = "tok-Sup3rSecret-value"
	echo := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"status":%q}`, strings.Repeat("x", 70)+r.Header.Get("X-Api-Key"))
	}))
	env := map[string]string{"API_TOKEN": token, "PMGUARD_HEALTH_HEADERS": "X-Api-Key: ${API_TOKEN}"}
	o := check(t, env, "--endpoint", echo.URL+"/health", "--json-path", "status=ok", "--retries", "0")
	if o.code != exitcode.Fail {
		t.Fatalf("exit %d", o.code)
	}
	contains(t, "reason", o.result.Endpoints[0].Attempts[0].Reason, "xxx[REDACTED]")
	for name, text := range map[string]string{
		"stdout": o.out, "verdict": o.err.Error(), "JSON report": string(o.json),
		"JUnit report": string(o.junit), "event log": string(o.log),
	} {
		if strings.Contains(text, token[:6]) {
			t.Errorf("%s shows the start of the secret:\n%s", name, text)
		}
	}
}

// TestShowQueryNamesWhatMayShow: PMGUARD_SHOW_QUERY lets the values of the
// named parameters show; every other value stays hidden everywhere.
func TestShowQueryNamesWhatMayShow(t *testing.T) {
	refused := "http://" + freeAddr(t) + "/health?region=eu-west-1&code=c0de-Secr3t"
	for _, tc := range []struct {
		show       string
		wantRegion string
	}{
		{"", "region=REDACTED"},
		{"region", "region=eu-west-1"},
	} {
		env := map[string]string{"PMGUARD_SHOW_QUERY": tc.show}
		o := check(t, env, "--endpoint", refused, "--retries", "0")
		if o.code != exitcode.Fail {
			t.Fatalf("show %q: exit %d", tc.show, o.code)
		}
		contains(t, "shown URL", o.result.Endpoints[0].URL, tc.wantRegion, "code=REDACTED")
		for name, text := range map[string]string{
			"stdout": o.out, "verdict": o.err.Error(), "JSON report": string(o.json),
			"JUnit report": string(o.junit), "event log": string(o.log),
		} {
			if strings.Contains(text, "c0de-Secr3t") {
				t.Errorf("show %q: %s shows the hidden value:\n%s", tc.show, name, text)
			}
			if tc.show != "" && !strings.Contains(text, "eu-west-1") && name != "verdict" {
				t.Errorf("show %q: %s hides the shown value:\n%s", tc.show, name, text)
			}
		}
	}
}
