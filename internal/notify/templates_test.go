package notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/notify/slacktest"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// scenario is the event log a template is rendered from.
func scenario(name string) []events.Event {
	at := func(min int, e events.Event) events.Event {
		e.Time = t0.Add(time.Duration(min) * time.Minute)
		e.PipelineID = jobEnvVars()["CIRCLE_PIPELINE_ID"]
		return e
	}
	var evs []events.Event
	for i, e := range healthFailure() {
		evs = append(evs, at(i-10, e))
	}
	parent := at(-5, events.Event{Verb: "notify", Event: "notified", Figures: map[string]any{"parent": true, "channel": "C0000000001", "ts": "1795442580.000001"}})
	initiated := at(-3, rollbackInitiated())
	switch name {
	case HealthCheckFailed:
		return evs
	case CanaryFailed, DeployFailed, SlackBasicFail:
		return append(evs, at(-6, canaryFailure()))
	case RollbackStarted:
		return append(evs, at(-6, canaryFailure()), parent, initiated)
	case RollbackSucceeded:
		return append(evs, at(-6, canaryFailure()), parent, initiated, at(-1, events.Event{Verb: "rollback", Event: "rollback_completed", Target: "v1.4.2"}))
	case RollbackFailed:
		return append(evs, at(-6, canaryFailure()), parent, initiated, at(-1, events.Event{Verb: "rollback", Event: "rollback_failed", Message: "pipeline 568 failed in job deploy-prod: permission denied for context prod-deploy"}))
	case DeploySucceeded, SlackBasicSuccess:
		return []events.Event{
			at(-9, events.Event{Verb: "health", Event: "health_started", Figures: map[string]any{"endpoints": 3.0}}),
			at(-8, events.Event{Verb: "health", Event: "health_passed", Figures: map[string]any{"endpoints": 3.0, "passed": 3.0, "failed": 0.0}}),
			at(-2, events.Event{Verb: "canary", Event: "canary_passed", Figures: map[string]any{"error_rate": 0.0012, "error_threshold": 0.02, "p95_ms": 143.0, "latency_threshold_ms": 500.0, "latency_quantile": "p95", "samples": 4800.0}}),
		}
	case PostmortemReminder:
		return append(evs, at(-6, canaryFailure()), parent, initiated, at(-1, events.Event{Verb: "rollback", Event: "rollback_completed"}))
	}
	return nil
}

func goldenFacts(name string) *Facts {
	job := jobenv.FromEnv(config.MapEnv(jobEnvVars()))
	if name == SlackTaggedDeploy {
		job.Tag, job.Branch = "v1.4.3", ""
	}
	f := &Facts{Job: job, Subject: "Fix checkout timeout under load", Mentions: "<!subteam^S0123|oncall>", Now: t0}
	if name == PostmortemReminder || name == RollbackFailed {
		f.PostmortemURL = "https://output.circle-artifacts.com/output/job/1234/artifacts/0/postmortem.md"
	}
	factsFrom(f, scenario(name), job.PipelineID)
	return f
}

// Every built-in template, rendered from realistic figures, matches its
// golden file (JSON as sent, and the text rendering); -update rewrites them.
// Every one also passes the stand-in's Block Kit checks.
func TestTemplatesGolden(t *testing.T) {
	for _, name := range Templates() {
		t.Run(name, func(t *testing.T) {
			m, err := Render(name, goldenFacts(name))
			if err != nil {
				t.Fatal(err)
			}
			if notes := m.Fit(nil); len(notes) > 0 {
				t.Fatalf("a realistic %s needed cutting: %v", name, notes)
			}
			if strings.TrimSpace(m.Text) == "" {
				t.Fatal("no fallback text")
			}
			golden(t, filepath.Join("testdata", name+".json"), append(m.JSON(), '\n'))
			golden(t, filepath.Join("testdata", name+".txt"), []byte(TextRendering(m)))
			blocks, _ := json.Marshal(m.Blocks)
			if code := slacktest.CheckBlocks(blocks); code != "" {
				t.Fatalf("Slack would refuse %s: %s", name, code)
			}
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/notify -run TestTemplatesGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the rendering:\n%s", path, got)
	}
}

func TestTemplatesSayWhatFailed(t *testing.T) {
	cases := map[string][]string{
		DeployFailed:       {"error rate 25% &gt; 2%", "p95 812 ms &gt; 500 ms (1,200 samples)", "`https://api.acme.example/health`: status 503, expected 200", "No rollback has started yet"},
		HealthCheckFailed:  {"Failing endpoints* (2 of 3)", "`https://api.acme.example/ready`: timeout after 5s"},
		CanaryFailed:       {"Canary verdict:* failed", "error rate 25% &gt; 2%"},
		RollbackStarted:    {"<https://app.circleci.com/pipelines/gh/acme/api/568|rollback pipeline #568> started", "to `v1.4.2`", "rolling back"},
		RollbackSucceeded:  {"Rolled back to `v1.4.2`", "rolled back, resolved"},
		RollbackFailed:     {"permission denied for context prod-deploy", "needs attention", "Someone needs to act now"},
		DeploySucceeded:    {"health: 3 endpoint(s) healthy", "error rate 0.12% ≤ 2%", "p95 143 ms ≤ 500 ms"},
		PostmortemReminder: {"post-mortem of the incident of 2026-11-23 13:58 UTC", "postmortem.md"},
	}
	for name, wants := range cases {
		m, _ := Render(name, goldenFacts(name))
		mustContain(t, name, blockText(m.Blocks), wants...)
		mustContain(t, name+" buttons", blockText(m.Blocks), "View job", "https://circleci.com/gh/acme/api/1234")
	}
}

// Hostile values in the job's context are shown, never acted on: a commit
// subject cannot ping @channel or break a link.
func TestTemplatesEscapeJobValues(t *testing.T) {
	env := jobEnvVars()
	env["CIRCLE_BRANCH"] = "feat/<!channel>"
	env["CIRCLE_USERNAME"] = "mallory <@U000>"
	f := &Facts{Job: jobenv.FromEnv(config.MapEnv(env)), Subject: "Revert \"x\" & <!here> *now*", Now: t0}
	m, _ := Render(DeployFailed, f)
	text := blockText(m.Blocks) + m.Text
	for _, bad := range []string{"<!channel>", "<!here>", "<@U000>"} {
		if strings.Contains(text, bad) {
			t.Fatalf("%q reached the message unescaped", bad)
		}
	}
	mustContain(t, "message", text, "&lt;!here&gt;", "Revert \"x\" &amp;")
}

func TestFitCutsToSlackLimits(t *testing.T) {
	long := strings.Repeat("ünïcödé ", 2000)
	link := "see <https://example.com/" + strings.Repeat("a", 50) + "|the docs> and more"
	var blocks []map[string]any
	blocks = append(blocks, headerBlock(long), sectionBlock(strings.Repeat("x", 2990)+link))
	var fields []string
	for i := 0; i < 14; i++ {
		fields = append(fields, long)
	}
	blocks = append(blocks, fieldsBlock(fields...), sectionBlock("```\n"+long+"\n```"))
	blocks = append(blocks, map[string]any{"type": "section", "text": mrkdwn("")})
	for i := 0; i < 60; i++ {
		blocks = append(blocks, map[string]any{"type": "divider"})
	}
	blocks = append(blocks, actionsBlock(button{Text: long, URL: "https://example.com"}))
	m := Message{Text: strings.Repeat("t", 50000), Blocks: blocks}
	notes := m.Fit(nil)
	if len(notes) == 0 {
		t.Fatal("nothing cut")
	}
	raw, _ := json.Marshal(m.Blocks)
	if code := slacktest.CheckBlocks(raw); code != "" {
		t.Fatalf("after Fit Slack would still answer %s; notes %v", code, notes)
	}
	if len(m.Blocks) != maxBlocks {
		t.Fatalf("%d blocks", len(m.Blocks))
	}
	if h := textOf(m.Blocks[0]["text"]); runeLen(h) != maxHeaderText || !strings.HasSuffix(h, truncationMarker) {
		t.Fatalf("header %d chars", runeLen(h))
	}
	if s := textOf(m.Blocks[1]["text"]); strings.Contains(s, "<https://example.com/") && !strings.Contains(s, "|the docs>") {
		t.Fatalf("a link was cut in half: ...%s", s[len(s)-80:])
	}
	if s := textOf(m.Blocks[3]["text"]); strings.Count(s, "```")%2 != 0 {
		t.Fatal("a code block was left open")
	}
	if runeLen(m.Text) > maxFallbackText {
		t.Fatal("fallback text not cut")
	}
}

// Each kind of list Slack limits is cut to its limit, the note says by how
// much, and what is kept is fitted too.
func TestFitDropsListItemsOverTheLimit(t *testing.T) {
	many := func(n int, item func(i int) any) []any {
		var out []any
		for i := 0; i < n; i++ {
			out = append(out, item(i))
		}
		return out
	}
	long := strings.Repeat("x", 5000)
	m := Message{Text: "t", Blocks: []map[string]any{
		{"type": "section", "fields": many(12, func(int) any { return mrkdwn(long) })},
		{"type": "context", "elements": many(13, func(int) any { return mrkdwn(long) })},
		{"type": "actions", "elements": many(30, func(i int) any {
			return map[string]any{"type": "button", "text": plain(long), "url": "https://example.com", "action_id": fmt.Sprint(i)}
		})},
	}}
	notes := strings.Join(m.Fit(nil), "\n")
	mustContain(t, "notes", notes,
		"block 1: 2 field(s) dropped (Slack allows 10)",
		"block 1: field cut from 5000 to 2000 characters",
		"block 2: 3 context element(s) dropped (Slack allows 10)",
		"block 2: context text cut from 5000 to 3000 characters",
		"block 3: 5 action(s) dropped (Slack allows 25)",
		"block 3: button text cut from 5000 to 75 characters")
	for i, n := range []int{10, 10, 25} {
		key := "elements"
		if i == 0 {
			key = "fields"
		}
		if got := len(m.Blocks[i][key].([]any)); got != n {
			t.Fatalf("block %d: %d %s kept, want %d", i+1, got, key, n)
		}
	}
	raw, _ := json.Marshal(m.Blocks)
	if code := slacktest.CheckBlocks(raw); code != "" {
		t.Fatalf("after Fit Slack would still answer %s; notes %s", code, notes)
	}
}

func TestTruncateMrkdwn(t *testing.T) {
	cases := []struct {
		in    string
		limit int
		want  string
	}{
		{"short", 10, "short"},
		{"abc <https://x.example/long|label> tail", 20, "abc …"},
		{"a &amp; b &amp; c", 12, "a &amp; b …"},
	}
	for _, c := range cases {
		if got := truncateMrkdwn(c.in, c.limit); got != c.want || runeLen(got) > c.limit {
			t.Errorf("truncateMrkdwn(%q, %d) = %q, want %q", c.in, c.limit, got, c.want)
		}
	}
}

func TestExpandVars(t *testing.T) {
	env := map[string]string{"A": "1", "B_2": "two", "EMPTY": ""}
	get := func(k string) string { return env[k] }
	cases := map[string]string{
		"$A and ${B_2}":      "1 and two",
		"$(whoami) $1 $ end": "$(whoami) $1 $ end",
		"${A":                "${A",
		"${not valid}":       "${not valid}",
		"$EMPTY|$MISSING|":   "||",
		"cost: $$A":          "cost: $1",
		"$A$B_2":             "1two",
	}
	for in, want := range cases {
		if got := expandVars(in, get); got != want {
			t.Errorf("expandVars(%q) = %q, want %q", in, got, want)
		}
	}
}

// Hostile values expanded into a custom template stay inside their JSON
// strings: the message keeps its shape and nothing is evaluated.
func TestCustomTemplateHostileValues(t *testing.T) {
	// The test's own marker file: a shared path in /tmp could be left by
	// an earlier run or made by another process, and fail every run after.
	pwned := filepath.Join(t.TempDir(), "pmguard-pwned")
	hostile := []string{
		`"}]}, {"type": "section"`,
		"line one\nline two\r\n\ttabbed",
		`back\slash \" \\n`,
		"*bold* _it_ ~strike~ `code`",
		"$(touch " + pwned + ") `touch " + pwned + "`",
		"${IFS}$HOME",
		"<!channel> <@U123|x> & <https://evil.example|click>",
		"\u2028\u2029 zero\u200bwidth \x00 nul",
	}
	tmpl := []byte(`{"text": "Status: $VALUE", "blocks": [
		{"type": "header", "text": {"type": "plain_text", "text": "$VALUE"}},
		{"type": "section", "text": {"type": "mrkdwn", "text": "*Value:* ${VALUE}"}, "fields": [{"type": "mrkdwn", "text": "$VALUE"}]},
		{"type": "context", "elements": [{"type": "mrkdwn", "text": "$VALUE"}]}
	]}`)
	for _, v := range hostile {
		m, _, err := ParseCustom(tmpl, func(k string) string {
			if k == "VALUE" || k == "HOME" || k == "IFS" {
				return v
			}
			return ""
		})
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if len(m.Blocks) != 3 {
			t.Fatalf("%q changed the message's shape: %d blocks", v, len(m.Blocks))
		}
		if got := textOf(m.Blocks[0]["text"]); got != v {
			t.Fatalf("plain_text got %q, want the value as is %q", got, v)
		}
		if got := textOf(m.Blocks[1]["text"]); got != "*Value:* "+escapeText(v) {
			t.Fatalf("mrkdwn got %q", got)
		}
		if _, err := os.Stat(pwned); err == nil {
			t.Fatal("a value was executed")
		}
		if _, err := json.Marshal(m); err != nil {
			t.Fatalf("%q: message no longer marshals: %v", v, err)
		}
	}
}

func TestCustomTemplateForms(t *testing.T) {
	get := func(string) string { return "" }
	m, notes, err := ParseCustom([]byte(`[{"type":"divider"},{"type":"section","text":{"type":"mrkdwn","text":"n: 1700000000"}}]`), get)
	if err != nil || len(m.Blocks) != 2 || len(notes) != 0 {
		t.Fatalf("bare array: %v %v %v", m, notes, err)
	}
	_, notes, err = ParseCustom([]byte(`{"channel":"x","username":"bot","blocks":[{"type":"divider"}]}`), get)
	if err != nil || len(notes) != 1 || !strings.Contains(notes[0], "channel, username") {
		t.Fatalf("ignored keys not reported: %v %v", notes, err)
	}
	m, _, err = ParseCustom([]byte(`{"attachments":[{"color":"#ff0000","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"hi"}}]}]}`), get)
	if err != nil || len(m.Attachments) != 1 {
		t.Fatalf("attachments: %v %v", m, err)
	}
	// A block type Block Kit does not have is refused here, not by Slack
	// (invalid_blocks) once the incident is under way.
	if _, _, err = ParseCustom([]byte(`{"blocks":[{"type":"divider"},{"type":"sectoin","text":{"type":"mrkdwn","text":"hi"}}]}`), get); err == nil || !strings.Contains(err.Error(), `block 2 has type "sectoin"`) {
		t.Errorf("unknown block type: %v", err)
	}
}

// A variable is a credential by a word of its name; an ordinary word that
// happens to hold one (AUTH in AUTHOR) does not make it one, so a slack
// orb template's $COMMIT_AUTHOR can be listed in template_vars.
func TestLooksLikeCredential(t *testing.T) {
	for name, want := range map[string]bool{
		"COMMIT_AUTHOR": false, "GIT_AUTHOR_NAME": false, "TESTS_PASSED": false, "UI_DESIGN": false, "DEPLOY_NOTE": false,
		"GH_AUTH": true, "AUTH_HEADER": true, "AUTHOR_TOKEN": true, "COMMITAUTHOR": true, "SSHKEY": true, "DD_API_KEY": true,
		"DB_PASS": true, "PASSWORD": true, "MY_SIGNING_SECRET": true, "AUTHORIZATION": true, "GITHUBTOKEN": true,
	} {
		if got := looksLikeCredential(name); got != want {
			t.Errorf("looksLikeCredential(%q) = %v, want %v", name, got, want)
		}
	}
}
