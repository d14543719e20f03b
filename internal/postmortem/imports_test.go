package postmortem

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/apitest"
	"github.com/pmguard/pmguard/internal/datadog/datadogtest"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/notify"
	"github.com/pmguard/pmguard/internal/notify/slacktest"
	"github.com/pmguard/pmguard/internal/pagerduty"
	"github.com/pmguard/pmguard/internal/pagerduty/pagerdutytest"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// slackTS is Slack's ts of a reference time.
func slackTS(hhmmss string) string { return strconv.FormatInt(at(hhmmss).Unix(), 10) + ".000100" }

// importRig is the reference incident in every stand-in: CircleCI (the
// deploy and the rollback), Datadog (the monitor's alert and recovery),
// PagerDuty (the page, its acknowledgement, a note, the resolution) and
// the Slack thread the rollback's notice started.
type importRig struct {
	env map[string]string
	dd  *datadogtest.Server
	pd  *pagerdutytest.Server
	sl  *slacktest.Server
}

func newImportRig(t *testing.T) *importRig {
	t.Helper()
	cci := standin(t)
	evFile := seedReference(t, cci)

	dd := datadogtest.New(t)
	dd.Monitor(4711, "Checkout error rate", "alert", at("14:12:00"), "Error rate 25% > 5% on service:checkout @pagerduty-checkout")
	dd.Monitor(4711, "Checkout error rate", "recovered", at("14:31:00"), "Error rate back to 1%")
	dd.Monitor(4711, "Checkout error rate", "alert", at("09:00:00"), "an earlier alert, outside the window")

	pd := pagerdutytest.New(t)
	pd.AddIncident(pagerduty.Incident{ID: "Q1CHECKOUT", Number: 4242, Title: "Checkout error rate above 5%", Status: "resolved", CreatedAt: at("14:12:00")})
	pd.Log("Q1CHECKOUT", "trigger", at("14:12:00"), "Triggered through the API", "")
	pd.Log("Q1CHECKOUT", "notify", at("14:12:05"), "Notified Dana Responder by SMS", "")
	pd.Log("Q1CHECKOUT", "acknowledge", at("14:15:00"), "Acknowledged by Dana Responder", "")
	pd.Log("Q1CHECKOUT", "annotate", at("14:20:00"), "Note added", "Root cause: the orders DB migration holds a table lock; SEV-2")
	pd.Log("Q1CHECKOUT", "resolve", at("14:45:00"), "Resolved by Dana Responder", "")

	sl := slacktest.Start(t)
	ch := sl.AddChannel("incidents", true)
	parent := "1763648705.000100" // the fixture's notified event
	sl.Seed(slacktest.Message{Channel: ch, TS: parent, Text: "Rollback started for deploy #1234"})
	// pmguard's own threaded update, recorded in the event log below.
	sl.Seed(slacktest.Message{Channel: ch, TS: slackTS("14:30:10"), ThreadTS: parent, Text: "Rollback succeeded"})
	sl.Seed(slacktest.Message{Channel: ch, TS: slackTS("14:27:00"), ThreadTS: parent, User: "U0RESPOND1", Text: "<@U0RESPOND2> error rate falling on checkout"})
	sl.Seed(slacktest.Message{Channel: ch, TS: slackTS("14:33:00"), ThreadTS: parent, User: "U0RESPOND2", Text: "Checkout confirmed working from the storefront", Starred: true})
	sl.Seed(slacktest.Message{Channel: ch, TS: slackTS("14:45:00"), ThreadTS: parent, User: "U0RESPOND1", Text: "All clear; error rate stable at 1%", Pinned: true})
	local, err := os.ReadFile(evFile)
	if err != nil {
		t.Fatal(err)
	}
	local = append(local, []byte(`{"time":"2026-11-20T14:30:10Z","verb":"notify","event":"notified","pipeline_id":"x","job":"rollback","figures":{"channel":"C0INCIDENTS","ts":"`+slackTS("14:30:10")+`","thread_ts":"`+parent+`","template":"ROLLBACK_SUCCEEDED"}}`+"\n")...)
	if err := os.WriteFile(evFile, bytes.ReplaceAll(local, []byte("C0INCIDENTS"), []byte(ch)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, v := range sl.Violations() {
			t.Errorf("Slack stand-in: %s", v)
		}
	})

	env := map[string]string{
		"PMGUARD_CIRCLECI_HOST": cci.URL(), "CIRCLE_TOKEN": standinToken,
		"PMGUARD_POSTMORTEM_EVENT_LOGS":    evFile,
		"PMGUARD_POSTMORTEM_INCIDENT_FILE": "testdata/reference/incident-imported.yml",
		"PMGUARD_POSTMORTEM_OUTPUT_DIR":    t.TempDir(),
		"DD_API_KEY":                       datadogtest.APIKey, "DD_APP_KEY": datadogtest.AppKey,
		"PMGUARD_POSTMORTEM_DATADOG_SITE":       dd.URL(),
		"PMGUARD_POSTMORTEM_DATADOG_QUERY":      "service:checkout",
		"PAGERDUTY_TOKEN":                       pagerdutytest.Token,
		"PMGUARD_POSTMORTEM_PAGERDUTY_INCIDENT": "Q1CHECKOUT",
		"PMGUARD_POSTMORTEM_PAGERDUTY_API_URL":  pd.URL(),
		"SLACK_ACCESS_TOKEN":                    sl.Token, "PMGUARD_SLACK_API_URL": sl.APIURL(),
	}
	return &importRig{env: env, dd: dd, pd: pd, sl: sl}
}

func (r *importRig) run(t *testing.T, args ...string) (*Result, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	d := verbtest.Deps(r.env, &stdout, &stderr)
	d.Now = func() time.Time { return at("16:00:00") }
	o, err := New(context.Background(), d, args)
	if err != nil {
		t.Fatalf("New: %v\n%s", err, stderr.String())
	}
	res, err := o.draft(context.Background())
	return res, stdout.String() + stderr.String(), d.Redactor.Error(err)
}

// The reference incident with no timeline typed by hand: the alert, page,
// acknowledgement, note and all clear come from the stand-ins, each with
// its true source.
func TestImportedReferenceIncident(t *testing.T) {
	r := newImportRig(t)
	res, out, err := r.run(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	d := res.Document
	// One row per moment: records of the same moment from several systems
	// fold into one row that keeps every source.
	want := []struct {
		clock, event, source string
		also                 string
		mark                 Mark
	}{
		{"14:00", "Deploy pipeline #1234 triggered on main", "CircleCI", "", MarkDeployStarted},
		{"14:05", "Health check passed", "pmguard health (job deploy)", "CircleCI", MarkDeployed},
		{"14:12", `Monitor "Checkout error rate" alerted · PagerDuty incident #4242 triggered: Checkout error rate above 5%`, "Datadog", "PagerDuty", MarkDetected},
		{"14:15", "Page acknowledged by the on-call responder", "PagerDuty", "", MarkDeclared},
		{"14:20", "Note: Root cause: the orders DB migration holds a table lock; SEV-2", "PagerDuty", "", MarkRootCause},
		{"14:25", "Rollback started through CircleCI", "pmguard rollback (job rollback)", "CircleCI", MarkMitigationStarted},
		{"14:25", "Incident notice posted to Slack", "pmguard notify (job rollback)", "", ""},
		{"14:27", "a responder error rate falling on checkout", "Slack", "", ""},
		{"14:30", "Rollback completed", "pmguard rollback (job rollback)", "CircleCI", MarkMitigated},
		{"14:30", "Incident notice posted to Slack", "pmguard notify (job rollback)", "", ""},
		{"14:31", `Monitor "Checkout error rate" recovered`, "Datadog", "", ""},
		{"14:33", "Starred: Checkout confirmed working from the storefront", "Slack", "", ""},
		{"14:45", "PagerDuty incident #4242 resolved · Pinned: All clear; error rate stable at 1%", "PagerDuty", "Slack", MarkResolved},
		{"15:30", "Fix deploy pipeline #1238 triggered on main", "CircleCI", "", ""},
		{"15:38", "Workflow deploy succeeded", "CircleCI", "", MarkFixDeployed},
	}
	if len(d.Timeline) != len(want) {
		t.Errorf("%d rows, want %d:\n%s", len(d.Timeline), len(want), dump(d.Timeline))
	}
	for i, w := range want {
		if i >= len(d.Timeline) {
			break
		}
		e := d.Timeline[i]
		if !strings.HasPrefix(e.Event, w.event) || d.clock(e.Time) != w.clock || e.Source != w.source || strings.Join(e.Also, ",") != w.also || e.Mark != w.mark {
			t.Errorf("row %d: %s %q [%s, also %q] mark %q\nwant %s %q [%s, also %q] mark %q", i, d.clock(e.Time), e.Event, e.Source, e.Also, e.Mark, w.clock, w.event, w.source, w.also, w.mark)
		}
	}
	if m := d.Measures.TimeToMitigate; !m.Measured || m.Duration != 18*time.Minute {
		t.Errorf("time to mitigate %+v; want a measured 18m", m)
	}
	if m := d.Measures.TimeToAcknowledge; !m.Measured || m.Duration != 3*time.Minute {
		t.Errorf("time to acknowledge %+v; want a measured 3m (PagerDuty's acknowledgement)", m)
	}
	if m := d.Measures.TimeToResolve; !m.Measured || m.Duration != 86*time.Minute {
		t.Errorf("time to resolve %+v; want a measured 1 h 26 min (alert 14:12 to the fixing deploy at 15:38)", m)
	}
	md, _ := os.ReadFile(res.Markdown)
	html, _ := os.ReadFile(res.HTML)
	js, _ := os.ReadFile(res.JSON)
	// The stand-ins listen on a new port each run.
	loopback := regexp.MustCompile(`http://127\.0\.0\.1:\d+`)
	golden(t, "testdata/imported.golden.md", loopback.ReplaceAllString(string(md), "http://stand-in"))
	golden(t, "testdata/imported.golden.json", loopback.ReplaceAllString(string(js), "http://stand-in"))
	for name, text := range map[string]string{"output": out, "markdown": string(md), "html": string(html)} {
		for _, secret := range []string{datadogtest.APIKey, datadogtest.AppKey, pagerdutytest.Token, "xoxb-test", standinToken} {
			if strings.Contains(text, secret) {
				t.Errorf("%s holds a secret", name)
			}
		}
		// Blameless: the people PagerDuty and Slack name appear nowhere.
		for _, who := range []string{"Dana", "U0RESPOND"} {
			if strings.Contains(text, who) {
				t.Errorf("%s names %s", name, who)
			}
		}
	}
	if !strings.Contains(out, "pagerduty:R1003LOG") || !strings.Contains(out, "datadog:") || !strings.Contains(out, "slack:"+slackTS("14:27:00")) {
		t.Errorf("imports not listed with their refs:\n%s", out)
	}
}

// The v1 events stream gives the same alert.
func TestImportDatadogV1(t *testing.T) {
	r := newImportRig(t)
	r.env["PMGUARD_POSTMORTEM_DATADOG_EVENTS_API"] = "v1"
	res, out, err := r.run(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var alerts []string
	for _, e := range res.Document.Timeline {
		if e.Source == SourceDatadog {
			alerts = append(alerts, res.Document.clock(e.Time)+" "+e.Event+" "+string(e.Mark))
		}
	}
	if strings.Join(alerts, "|") != `14:12 Monitor "Checkout error rate" alerted · PagerDuty incident #4242 triggered: Checkout error rate above 5% detected|14:31 Monitor "Checkout error rate" recovered ` {
		t.Errorf("Datadog entries: %q", alerts)
	}
}

// import_exclude leaves out a source, a kind or one entry by its ref.
func TestImportExclude(t *testing.T) {
	r := newImportRig(t)
	r.env["PMGUARD_POSTMORTEM_IMPORT_EXCLUDE"] = "datadog\nslack:message\npagerduty:R1005LOG"
	res, out, err := r.run(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, e := range res.Document.Timeline {
		switch {
		case e.Source == SourceDatadog:
			t.Errorf("Datadog entry kept: %s", e.Event)
		case e.Source == SourceSlack && !strings.HasPrefix(e.Event, "Pinned") && !strings.HasPrefix(e.Event, "Starred"):
			t.Errorf("Slack message kept: %s", e.Event)
		case e.Ref == "pagerduty:R1005LOG":
			t.Errorf("excluded ref kept: %s", e.Event)
		}
	}
}

// An importer that fails still leaves the draft, says what is missing, and
// exits 3; bad import settings are exit 2 before any request.
func TestImportFaults(t *testing.T) {
	r := newImportRig(t)
	r.pd.Inject(apitest.Fault{Status: 200, Body: `{"incident":{}}`})
	res, out, err := r.run(t)
	if exitcode.Of(err) != exitcode.CouldNotRun || !strings.Contains(err.Error(), "without an incident") {
		t.Fatalf("exit %d: %v\n%s", exitcode.Of(err), err, out)
	}
	md, _ := os.ReadFile(res.Markdown)
	if !strings.Contains(string(md), "PagerDuty could not be read completely") || !strings.Contains(string(md), "alerted") {
		t.Errorf("draft silent about PagerDuty or lacks Datadog")
	}
	// Said at the top, not only among the notes at the end.
	const incomplete = "**Incomplete:** this draft was written without complete data from PagerDuty"
	if i := strings.Index(string(md), incomplete); i < 0 || i > strings.Index(string(md), "## Summary") {
		t.Errorf("the draft does not say at its top that PagerDuty is missing:\n%.600s", md)
	}
	page, _ := os.ReadFile(res.HTML)
	if !strings.Contains(string(page), `<p class="banner" id="incomplete"><strong>Incomplete:</strong> this draft was written without complete data from PagerDuty`) {
		t.Error("the HTML page does not say it is incomplete")
	}
	var js struct {
		Incomplete []string `json:"incomplete"`
	}
	if b, err := os.ReadFile(res.JSON); err != nil || json.Unmarshal(b, &js) != nil || len(js.Incomplete) != 1 || js.Incomplete[0] != "PagerDuty" {
		t.Errorf("postmortem.json incomplete: %v (%v)", js.Incomplete, err)
	}

	// Slack without the history scope, Datadog rate-limited once: the
	// thread found on its own (slack_thread: auto) is a note, not a failure;
	// a thread named by hand that cannot be read is exit 3.
	for _, named := range []bool{false, true} {
		r = newImportRig(t)
		r.sl.Inject(slacktest.Fault{Method: "conversations.replies", Times: 1, Code: "missing_scope", Needed: "channels:history"})
		r.dd.Inject(apitest.Fault{Status: 429, Header: map[string][]string{"X-Ratelimit-Reset": {"0"}}, Body: `{"errors":["Rate limit exceeded"]}`, Times: 1})
		note := "The Slack thread was not imported"
		if named {
			b, err := os.ReadFile(r.env["PMGUARD_POSTMORTEM_EVENT_LOGS"])
			if err != nil {
				t.Fatal(err)
			}
			evs, _, _ := events.Read(bytes.NewReader(b))
			ch, ts, ok := notify.IncidentThread(evs, "")
			if !ok {
				t.Fatal("the rig's event log has no incident thread")
			}
			r.env["PMGUARD_POSTMORTEM_SLACK_THREAD"] = ch + "/" + ts
			note = "The Slack thread could not be read completely"
		}
		res, out, err = r.run(t)
		if named && (exitcode.Of(err) != exitcode.CouldNotRun || !strings.Contains(err.Error(), "channels:history")) ||
			!named && err != nil {
			t.Fatalf("thread named %v: exit %d: %v\n%s", named, exitcode.Of(err), err, out)
		}
		md, _ = os.ReadFile(res.Markdown)
		if !strings.Contains(string(md), note) || !strings.Contains(string(md), "channels:history") || !strings.Contains(string(md), "alerted") || !strings.Contains(string(md), "Page acknowledged") {
			t.Errorf("thread named %v: draft lacks %q or the other sources:\n%s", named, note, md)
		}
	}

	for _, c := range []struct{ key, value, says string }{
		{"PMGUARD_POSTMORTEM_PAGERDUTY_INCIDENT", "not an id!", "pagerduty_incident"},
		{"PAGERDUTY_TOKEN", "", "pagerduty_token_env"},
		{"PMGUARD_POSTMORTEM_SLACK_THREAD", "general", "slack_thread"},
		{"PMGUARD_POSTMORTEM_IMPORT_EXCLUDE", "jira", "import_exclude"},
		{"PMGUARD_POSTMORTEM_DATADOG_SITE", "not a site", "datadog_site"},
		{"DD_APP_KEY", "", "datadog_app_key_env"},
		{"PMGUARD_POSTMORTEM_DATADOG_EVENTS_API", "v3", "datadog_events_api"},
		// 0 is not "the default": it would import nothing.
		{"PMGUARD_POSTMORTEM_IMPORT_WINDOW", "0", "import_window"},
	} {
		env := map[string]string{}
		for k, v := range r.env {
			env[k] = v
		}
		env[c.key] = c.value
		d := verbtest.Deps(env, nil, nil)
		_, err := New(context.Background(), d, nil)
		if exitcode.Of(err) != exitcode.BadInput || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s=%q: exit %d: %v", c.key, c.value, exitcode.Of(err), err)
		}
	}
}

// Imported text is people's words, and they write addresses: the draft
// keeps what happened and leaves out who, whether an address is in a
// PagerDuty note, a Slack message or a monitor's notification handles.
func TestImportedTextNamesNoOne(t *testing.T) {
	r := newImportRig(t)
	r.dd.Monitor(4712, "Checkout latency", "alert", at("14:40:00"), "p99 above 2s @dana.responder@acme.example @pagerduty-checkout @dana")
	r.pd.Log("Q1CHECKOUT", "annotate", at("14:21:00"), "Note added", "Paged dana.responder@acme.example about the lock")
	r.sl.Seed(slacktest.Message{Channel: "incidents", TS: slackTS("14:28:00"), ThreadTS: "1763648705.000100", User: "U0RESPOND1",
		Text: "asked <mailto:dana.responder@acme.example|dana.responder@acme.example> and ops@acme.example to check the pool"})
	res, out, err := r.run(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var got []string
	for _, e := range res.Document.Timeline {
		switch {
		case strings.HasPrefix(e.Event, `Monitor "Checkout latency"`):
			got = append(got, e.Impact)
		case strings.Contains(e.Event, "the lock"), strings.Contains(e.Event, "the pool"):
			got = append(got, e.Event)
		}
	}
	want := []string{"Note: Paged a responder about the lock", "asked a responder and a responder to check the pool", "p99 above 2s"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("imported text %q, want %q", got, want)
	}
	md, _ := os.ReadFile(res.Markdown)
	html, _ := os.ReadFile(res.HTML)
	for name, text := range map[string]string{"output": out, "markdown": string(md), "html": string(html)} {
		for _, who := range []string{"dana", "acme.example", "mailto"} {
			if strings.Contains(strings.ToLower(text), who) {
				t.Errorf("%s names %s", name, who)
			}
		}
	}
}

// With no event log that names the incident's Slack thread (the failed job
// kept none), slack_thread: auto finds it in slack_channel's history by the
// metadata notify puts on the thread's first notice, and imports it.
func TestSlackThreadFoundInSlack(t *testing.T) {
	r := newImportRig(t)
	path := r.env["PMGUARD_POSTMORTEM_EVENT_LOGS"]
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if !strings.Contains(l, `"event":"notified"`) {
			kept = append(kept, l)
		}
	}
	if err := os.WriteFile(path, []byte(strings.Join(kept, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out, err := r.run(t)
	if err != nil || strings.Contains(out, "Checkout confirmed working") {
		t.Fatalf("without a marked notice no thread is imported: %v\n%s", err, out)
	}
	failed := ""
	for _, p := range res.Document.Runs {
		if !p.Rollback && !p.Fix {
			failed = p.ID
		}
	}
	if failed == "" {
		t.Fatal("the draft names no failed pipeline")
	}

	// The thread's first notice as notify posts it, marked for the failed
	// pipeline, after another incident's.
	parent := slackTS("14:12:30")
	r.sl.Seed(slacktest.Message{Channel: "incidents", TS: slackTS("14:11:00"), Text: "Deploy failed: another service"})
	r.sl.SetMetadata("incidents", slackTS("14:11:00"), map[string]any{"event_type": "pmguard_incident", "event_payload": map[string]any{"incident_key": "another-pipeline"}})
	r.sl.Seed(slacktest.Message{Channel: "incidents", TS: parent, Text: "Deploy failed: acme/shop"})
	r.sl.SetMetadata("incidents", parent, map[string]any{"event_type": "pmguard_incident", "event_payload": map[string]any{"incident_key": failed, "template": "DEPLOY_FAILED"}})
	r.sl.Seed(slacktest.Message{Channel: "incidents", TS: slackTS("14:34:00"), ThreadTS: parent, User: "U0RESPOND2", Text: "Storefront checkout verified by hand"})
	r.env["PMGUARD_POSTMORTEM_SLACK_CHANNEL"] = "incidents"
	res, out, err = r.run(t)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	md, _ := os.ReadFile(res.Markdown)
	if !strings.Contains(string(md), "Storefront checkout verified by hand") {
		t.Fatalf("the thread found in Slack was not imported:\n%s", out)
	}
}
