package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/notify/slacktest"
)

// slackParent posts the incident's first notice straight to the Slack
// stand-in, as an earlier notify step would have, and returns its ts.
func slackParent(t *testing.T, s *slacktest.Server, channel string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", s.APIURL()+"chat.postMessage", strings.NewReader(url.Values{"channel": {channel}, "text": {"DEPLOY FAILED"}}.Encode()))
	req.Header.Set("Authorization", "Bearer "+s.Token)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		OK bool   `json:"ok"`
		TS string `json:"ts"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || !out.OK {
		t.Fatalf("posting the parent: %v %+v", err, out)
	}
	return out.TS
}

// The verb end to end: CircleCI and Slack stand-ins, the draft written from
// the rollback pipeline alone, its link posted into the incident's thread
// (found in the failed deploy job's artifact), and no secret anywhere.
func TestPostmortemVerb(t *testing.T) {
	const cciToken = "cci-postmortem-secret-0123456789"
	cci := circlecitest.New(t, fake.Options{Token: cciToken, Now: func() time.Time { return time.Now() }})
	slack := slacktest.Start(t)
	channel := slack.AddChannel("incidents", true)
	parentTS := slackParent(t, slack, channel)

	const slug = "gh/acme/shop"
	cci.AddProject(slug)
	now := time.Now().UTC().Truncate(time.Second)
	failed := cci.AddPipeline(slug, fake.PipelineSeed{Branch: "main", Actor: "jdoe-login", CreatedAt: now.Add(-40 * time.Minute),
		Workflows: []fake.WorkflowSeed{{Name: "deploy", Timeline: fake.Ends(5*time.Minute, "failed"), Jobs: []fake.JobSeed{{Name: "deploy", Status: "failed"}}}}})
	notified := fmt.Sprintf(`{"time":%q,"verb":"notify","event":"notified","pipeline_id":%q,"figures":{"channel":%q,"channel_name":"incidents","ts":%q,"template":"DEPLOY_FAILED","parent":true}}`+"\n"+
		`{"time":%q,"verb":"canary","event":"canary_failed","pipeline_id":%q,"figures":{"error_rate":0.25}}`+"\n",
		now.Add(-35*time.Minute).Format(time.RFC3339), failed.ID, channel, parentTS, now.Add(-36*time.Minute).Format(time.RFC3339), failed.ID)
	cci.Workflow(failed.Workflows[0].ID).Jobs[0].Artifacts = []fake.ArtifactSeed{{Path: "pmguard/events.jsonl", Content: []byte(notified)}}
	rollback := cci.AddPipeline(slug, fake.PipelineSeed{Branch: "main", TriggerType: "api", CreatedAt: now.Add(-30 * time.Minute),
		Params:    map[string]any{"pmguard_rollback": true, "pmguard_rollback_of": failed.ID},
		Workflows: []fake.WorkflowSeed{{Name: "deploy", Timeline: fake.Ends(5*time.Minute, "success")}}})

	dir := t.TempDir()
	evFile := filepath.Join(dir, "events.jsonl")
	env := map[string]string{
		"CIRCLE_TOKEN": cciToken, "PMGUARD_CIRCLECI_HOST": cci.URL(), "CIRCLE_PIPELINE_ID": rollback.ID,
		"CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/shop/77", "SLACK_ACCESS_TOKEN": slack.Token,
		"PMGUARD_SLACK_API_URL": slack.APIURL(), "PMGUARD_POSTMORTEM_SLACK_CHANNEL": "incidents",
		"PMGUARD_POSTMORTEM_OUTPUT_DIR": filepath.Join(dir, "out"), "PMGUARD_POSTMORTEM_INCIDENT_FILE": "incident.yml",
		"PMGUARD_EVENTS_FILE": evFile,
	}
	code, stdout, stderr := invoke(t, env, "postmortem")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	md, err := os.ReadFile(filepath.Join(dir, "out", "postmortem.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Canary failed", "Rollback workflow deploy succeeded", "**Time to mitigate** (alert → service restored): 11 min"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("draft lacks %q", want)
		}
	}
	var reply *slacktest.Message
	for _, m := range slack.Messages(channel) {
		if m.ThreadTS == parentTS {
			reply = &m
		}
	}
	if reply == nil {
		t.Fatalf("no reply in the incident's thread; messages: %+v\n%s\n%s", slack.Messages(channel), stdout, stderr)
	}
	if b, _ := json.Marshal(reply.Blocks); !strings.Contains(reply.Text+string(b), "https://circleci.com/gh/acme/shop/77") {
		t.Errorf("the reply lacks the draft's link: %s %s", reply.Text, b)
	}
	logged, _, _ := events.ReadFiles(evFile)
	if len(events.Filter(logged, "postmortem_written")) != 1 || len(events.Filter(logged, "notified")) != 1 {
		t.Errorf("event log: %+v", logged)
	}
	html, _ := os.ReadFile(filepath.Join(dir, "out", "postmortem.html"))
	logData, _ := os.ReadFile(evFile)
	for name, text := range map[string]string{"stdout": stdout, "stderr": stderr, "markdown": string(md), "html": string(html), "event log": string(logData)} {
		for _, secret := range []string{cciToken, slack.Token, "jdoe-login"} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds %q", name, secret)
			}
		}
	}
}

func TestPostmortemVerbBadInput(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "incident.yml")
	if err := os.WriteFile(bad, []byte("action_items:\n  - action: x\n    priority: P9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad priority", map[string]string{"PMGUARD_POSTMORTEM_INCIDENT_FILE": bad}, `line 3: invalid priority "P9"`},
		{"missing incident file", map[string]string{"PMGUARD_POSTMORTEM_INCIDENT_FILE": filepath.Join(dir, "none.yml")}, "no such file or directory; accepted: the path of the team's incident.yml"},
		{"pipeline id without token", map[string]string{"PMGUARD_POSTMORTEM_FAILED_PIPELINE": "5034460f-c7c4-4c43-9457-de07e2029e7b"}, "PMGUARD_POSTMORTEM_TOKEN_ENV"},
		{"not a pipeline id", map[string]string{"PMGUARD_POSTMORTEM_FAILED_PIPELINE": "1234"}, "PMGUARD_POSTMORTEM_FAILED_PIPELINE"},
		{"bad follow-up", map[string]string{"PMGUARD_POSTMORTEM_FOLLOW_UP": "soon"}, "PMGUARD_POSTMORTEM_FOLLOW_UP"},
		{"missing event log", map[string]string{"PMGUARD_POSTMORTEM_EVENT_LOGS": filepath.Join(dir, "none.jsonl")}, "event log"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.env["PMGUARD_POSTMORTEM_OUTPUT_DIR"] = filepath.Join(dir, "out")
			code, _, stderr := invoke(t, c.env, "postmortem")
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, c.want)
			}
		})
	}
}

func TestDoraVerbBadInput(t *testing.T) {
	base := map[string]string{"CIRCLE_TOKEN": "cci-x-0123456789", "PMGUARD_DORA_PROJECT_SLUG": "gh/acme/shop", "PMGUARD_CIRCLECI_HOST": "http://127.0.0.1:1"}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad window", map[string]string{"PMGUARD_DORA_WINDOW": "a month"}, "PMGUARD_DORA_WINDOW"},
		{"no token", map[string]string{"CIRCLE_TOKEN": ""}, "PMGUARD_DORA_TOKEN_ENV"},
		{"bad slug", map[string]string{"PMGUARD_DORA_PROJECT_SLUG": "acme/shop"}, "PMGUARD_DORA_PROJECT_SLUG"},
		{"no slug", map[string]string{"PMGUARD_DORA_PROJECT_SLUG": ""}, "PMGUARD_DORA_PROJECT_SLUG"},
		{"zero concurrency", map[string]string{"PMGUARD_DORA_CONCURRENCY": "0"}, "PMGUARD_DORA_CONCURRENCY"},
		{"git dir missing", map[string]string{"PMGUARD_DORA_GIT_DIR": "/nonexistent/dir"}, "PMGUARD_DORA_GIT_DIR"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range base {
				env[k] = v
			}
			for k, v := range c.env {
				env[k] = v
			}
			code, _, stderr := invoke(t, env, "dora")
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, c.want)
			}
		})
	}
}

// TestPostmortemNeverQuotesTheRunsSecrets: someone pasted the CircleCI and
// PagerDuty tokens into the incident's Slack thread, in plain words that
// have no credential's shape. The run knows both values (its *_env
// settings name them): neither, nor a cut start of one, reaches stdout or
// any file of the draft.
func TestPostmortemNeverQuotesTheRunsSecrets(t *testing.T) {
	const circle, pd = "ct-Plain7Secret-xyz", "pdtok-Plain-4242"
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/pins.list"):
			fmt.Fprint(w, `{"ok":true,"items":[]}`)
		case strings.HasSuffix(r.URL.Path, "/conversations.replies"):
			fmt.Fprintf(w, `{"ok":true,"has_more":false,"messages":[{"type":"message","ts":"1763648705.000100","text":"deploy failed"},`+
				`{"type":"message","ts":"1763648765.000200","text":"I reran it with %s and the pd key %s"}]}`, circle, pd)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(slack.Close)
	dir := t.TempDir()
	env := map[string]string{
		"CIRCLE_TOKEN": circle, "PAGERDUTY_TOKEN": pd, "SLACK_ACCESS_TOKEN": "xoxb-111-222-abc",
		"PMGUARD_CIRCLECI_HOST": "http://" + closedAddr(t), "PMGUARD_SLACK_API_URL": slack.URL + "/",
		"PMGUARD_POSTMORTEM_OUTPUT_DIR": dir, "PMGUARD_POSTMORTEM_INCIDENT_FILE": "",
		"PMGUARD_POSTMORTEM_SLACK_THREAD":    "C0123456789/1763648705.000100",
		"PMGUARD_POSTMORTEM_FAILED_PIPELINE": "5034460f-c7c4-4c43-9457-de07e2029e7b",
	}
	_, stdout, stderr := invokeCtx(t, time.Minute, env, "postmortem")
	texts := map[string]string{"stdout": stdout, "stderr": stderr}
	for _, f := range []string{"postmortem.md", "postmortem.html", "postmortem.json"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("%v\n%s", err, stderr)
		}
		texts[f] = string(b)
	}
	if !strings.Contains(texts["postmortem.md"], "I reran it with") {
		t.Fatalf("the thread was not imported:\n%s\n%s", texts["postmortem.md"], stderr)
	}
	for name, text := range texts {
		for _, secret := range []string{circle, pd} {
			if strings.Contains(text, secret[:8]) {
				t.Errorf("%s shows %q:\n%s", name, secret[:8], text)
			}
		}
	}
}
