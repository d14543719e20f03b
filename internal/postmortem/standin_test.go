package postmortem

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	fake "github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/jobenv"
)

const standinToken = "cci-test-token-0123456789"

// seedReference puts the reference incident into the CircleCI stand-in:
// deploy #1234 on main from 14:00 to 14:05, whose deploy job stored the
// health check's event log, and rollback #1236 from 14:25 to 14:30. It
// returns the event log the rollback job left in the workspace, with the
// stand-in's pipeline ids.
func seedReference(t *testing.T, s *circlecitest.Server) (eventsFile string) {
	t.Helper()
	const slug = "gh/acme/shop"
	s.AddProject(slug)
	for i := 0; i < 1232; i++ { // earlier pipelines, so the deploy is #1234
		s.AddPipeline(slug, fake.PipelineSeed{Branch: "feature/x", CreatedAt: at("09:00:00").Add(time.Duration(i) * time.Second)})
	}
	// #1233: the release the rollback goes back to.
	s.AddPipeline(slug, fake.PipelineSeed{Branch: "main", Revision: "1f2e3d4c5b6a71f2e3d4c5b6a71f2e3d4c5b6a7", Subject: "Show delivery estimates at checkout",
		CreatedAt: at("11:00:00"), Workflows: []fake.WorkflowSeed{{Name: "deploy", Timeline: fake.Ends(5*time.Minute, "success"), Jobs: []fake.JobSeed{{Name: "deploy", Status: "success"}}}}})
	fixture, err := os.ReadFile("testdata/reference/events.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var health, rest []string
	for _, l := range strings.Split(strings.TrimSpace(string(fixture)), "\n") {
		if strings.Contains(l, `"health_passed"`) {
			health = append(health, l)
		} else {
			rest = append(rest, l)
		}
	}
	failed := s.AddPipeline(slug, fake.PipelineSeed{Branch: "main", Revision: "abc1234def5678abc1234def5678abc1234def56",
		Subject: "Add index on orders.status", Actor: actorLogin, CreatedAt: at("14:00:00"),
		Workflows: []fake.WorkflowSeed{{Name: "deploy", Timeline: fake.Ends(5*time.Minute, "success"), Jobs: []fake.JobSeed{
			{Name: "build", Status: "success"},
			{Name: "deploy", Status: "success", Artifacts: []fake.ArtifactSeed{
				{Path: "pmguard/events.jsonl", Content: []byte(strings.Join(health, "\n") + "\n")},
				{Path: "pmguard/health.xml", Content: []byte("<testsuites/>")},
			}},
		}}}})
	s.AddPipeline(slug, fake.PipelineSeed{Branch: "feature/y", CreatedAt: at("14:10:00")}) // #1235
	// CircleCI records the branch head, the bad commit, as the rollback's revision.
	rollback := s.AddPipeline(slug, fake.PipelineSeed{Branch: "main", Revision: "abc1234def5678abc1234def5678abc1234def56",
		Subject: "Add index on orders.status", TriggerType: "api", Actor: "pmguard-bot", CreatedAt: at("14:25:00"),
		Params:    map[string]any{"pmguard_rollback": true, "pmguard_rollback_of": failed.ID},
		Workflows: []fake.WorkflowSeed{{Name: "deploy", Timeline: fake.Ends(5*time.Minute, "success"), Jobs: []fake.JobSeed{{Name: "deploy", Status: "success"}}}}})
	s.AddPipeline(slug, fake.PipelineSeed{Branch: "feature/z", CreatedAt: at("15:00:00")}) // #1237, another branch
	// #1238: the root-cause fix, merged from a fork.
	s.AddPipeline(slug, fake.PipelineSeed{Branch: "main", Revision: "fe0c1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f",
		Subject: "Merge pull request #482 from " + actorLogin + "/orders-index-concurrently", Actor: actorLogin, CreatedAt: at("15:30:00"),
		Workflows: []fake.WorkflowSeed{{Name: "deploy", Timeline: fake.Ends(8*time.Minute, "success"), Jobs: []fake.JobSeed{{Name: "deploy", Status: "success"}}}}})
	if failed.Number != 1234 || rollback.Number != 1236 {
		t.Fatalf("seeded #%d and #%d", failed.Number, rollback.Number)
	}
	local := strings.NewReplacer(failedID, failed.ID, rollbackID, rollback.ID).Replace(strings.Join(rest, "\n") + "\n")
	eventsFile = filepath.Join(t.TempDir(), "events.jsonl")
	if err := os.WriteFile(eventsFile, []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	return eventsFile
}

// checkStandinTimeline is checkReferenceTimeline for the stand-in, whose
// pipelines end on the minute and whose fix is #1238.
func checkStandinTimeline(t *testing.T, d *Document) {
	t.Helper()
	want := []string{"Deploy pipeline #1234 triggered", "Health check passed: 3 endpoint(s) healthy · Workflow deploy succeeded after 5 min (job deploy)",
		"Error rate rose", "On-call paged; SEV-2 declared", "Root cause found",
		`Rollback started through CircleCI to pipeline #1233, commit 1f2e3d4 "Show delivery estimates at checkout" · Rollback pipeline #1236 triggered on main by an API call`,
		"Incident notice posted", "Rollback completed", "All clear",
		`Fix deploy pipeline #1238 triggered on main by a push (commit fe0c1a2 "Merge pull request #482 from orders-index-concurrently")`, "Workflow deploy succeeded after 8 min"}
	if len(d.Timeline) != len(want) {
		t.Fatalf("%d rows, want %d:\n%s", len(d.Timeline), len(want), dump(d.Timeline))
	}
	for i, w := range want {
		if !strings.HasPrefix(d.Timeline[i].Event, w) {
			t.Errorf("row %d = %q, want %q", i, d.Timeline[i].Event, w)
		}
	}
	checkReferenceMeasures(t, d)
}

func standin(t *testing.T) *circlecitest.Server {
	return circlecitest.New(t, fake.Options{Token: standinToken, Now: func() time.Time { return at("16:00:00") }})
}

func TestStandinReferenceIncident(t *testing.T) {
	s := standin(t)
	evFile := seedReference(t, s)
	out := t.TempDir()
	logFile := filepath.Join(out, "pm-events.jsonl")
	log, err := events.Open(logFile, jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	var notice *Notice
	res, err := (&Options{
		EventFiles: []string{evFile}, IncidentFile: "testdata/reference/incident.yml", OutDir: out,
		CircleCI: s.Client(t), Log: log, Now: func() time.Time { return at("16:00:00") },
		Stdout: &stdout, Stderr: &stderr, Link: "https://circleci.com/gh/acme/shop/7020",
		Notify: func(_ context.Context, n Notice) error { notice = &n; return nil },
	}).draft(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	d := res.Document
	checkStandinTimeline(t, d)
	if d.Measures.TimeToMitigate.Duration != 18*time.Minute {
		t.Errorf("time to mitigate = %v, want 18m (alert 14:12 -> rollback complete 14:30)", d.Measures.TimeToMitigate.Duration)
	}
	// The deploy job's artifact gave the health check; the workspace log the rollback.
	var fromArtifact bool
	for _, e := range d.Timeline {
		fromArtifact = fromArtifact || strings.HasPrefix(e.Event, "Health check passed") && e.Source == "pmguard health (job deploy)"
	}
	if !fromArtifact {
		t.Errorf("the health check event from the deploy job's artifact is missing:\n%s", dump(d.Timeline))
	}
	md, err := os.ReadFile(res.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	for _, sec := range sections {
		if !strings.Contains(string(md), sec) {
			t.Errorf("section %q missing", sec)
		}
	}
	// The stand-in's loopback port changes from run to run.
	golden(t, "testdata/standin.golden.md", regexp.MustCompile(`http://127\.0\.0\.1:\d+`).ReplaceAllString(string(md), "http://circleci.test"))
	if _, err := os.Stat(res.HTML); err != nil {
		t.Errorf("no HTML: %v", err)
	}
	if !strings.Contains(stdout.String(), "time to mitigate 18 min") {
		t.Errorf("stdout lacks the summary:\n%s", stdout.String())
	}
	if notice == nil || notice.IncidentKey == "" || notice.Link == "" || notice.TimeToMitigate != 18*time.Minute {
		t.Errorf("notice = %+v", notice)
	}
	evs, _, _ := events.ReadFiles(logFile)
	if len(events.Filter(evs, "postmortem_written")) != 1 {
		t.Errorf("no postmortem_written event: %+v", evs)
	}
	// The token and the CI actor's login appear nowhere.
	html, _ := os.ReadFile(res.HTML)
	logData, _ := os.ReadFile(logFile)
	for name, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "markdown": string(md), "html": string(html), "event log": string(logData)} {
		if strings.Contains(text, standinToken) {
			t.Errorf("%s holds the CircleCI token", name)
		}
		if strings.Contains(text, actorLogin) {
			t.Errorf("%s names the CI actor", name)
		}
	}
}

// Started from the rollback pipeline itself (the orb's example passes only
// CIRCLE_PIPELINE_ID), the failed pipeline is found from its parameters.
func TestStandinFromRollbackPipeline(t *testing.T) {
	s := standin(t)
	seedReference(t, s)
	var rb string
	for _, p := range s.Pipelines("gh/acme/shop") {
		if p.Number == 1236 {
			rb = p.ID
		}
	}
	res, err := (&Options{CurrentPipeline: rb, OutDir: t.TempDir(), CircleCI: s.Client(t),
		IncidentFile: "testdata/reference/incident.yml", Now: func() time.Time { return at("16:00:00") }}).draft(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Document.Runs) != 3 || res.Document.Runs[0].Number != 1234 || !res.Document.Runs[1].Rollback || !res.Document.Runs[2].Fix {
		t.Fatalf("runs = %+v", res.Document.Runs)
	}
	// Without the rollback's own events, the rollback pipeline's workflow
	// marks service restored at 14:30: still 18 minutes after the alert.
	if res.Document.Measures.TimeToMitigate.Duration != 18*time.Minute {
		t.Errorf("time to mitigate = %v", res.Document.Measures.TimeToMitigate.Duration)
	}
}

// A CircleCI outage still leaves a draft, and exits 3 saying what is missing.
func TestStandinUnavailable(t *testing.T) {
	s := standin(t)
	evFile := seedReference(t, s)
	s.Inject(fake.Fault{Status: 503, Times: 100})
	out := t.TempDir()
	var stderr bytes.Buffer
	_, err := (&Options{EventFiles: []string{evFile}, OutDir: out, CircleCI: s.Client(t),
		Now: func() time.Time { return at("16:00:00") }, Stderr: &stderr}).draft(context.Background())
	if exitcode.Of(err) != exitcode.CouldNotRun {
		t.Fatalf("exit %d (%v), want 3", exitcode.Of(err), err)
	}
	md, rerr := os.ReadFile(filepath.Join(out, "postmortem.md"))
	if rerr != nil || !strings.Contains(string(md), "CircleCI data is incomplete") || !strings.Contains(string(md), "Rollback completed") {
		t.Errorf("draft without CI data missing or silent about it (%v)", rerr)
	}
	if strings.Contains(err.Error(), standinToken) {
		t.Errorf("error holds the token")
	}
}

// Lines of the local event log that could not be read are noted in the
// draft also when CircleCI is queried: its notes add to them.
func TestStandinKeepsSkippedLinesNote(t *testing.T) {
	s := standin(t)
	evFile := seedReference(t, s)
	f, err := os.OpenFile(evFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("not an event\n")
	f.Close()
	var stderr bytes.Buffer
	res, err := (&Options{EventFiles: []string{evFile}, OutDir: t.TempDir(), CircleCI: s.Client(t),
		Now: func() time.Time { return at("16:00:00") }, Stderr: &stderr}).draft(context.Background())
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	md, err := os.ReadFile(res.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), filepath.Base(evFile)) || !strings.Contains(string(md), "the timeline may lack their events") {
		t.Errorf("the draft does not say the event log's unreadable line was skipped; notes: %q\nstderr: %s", res.Document.Notes, stderr.String())
	}
	if !strings.Contains(string(md), "**Incomplete:** this draft was written without complete data from the event log:") {
		t.Errorf("the draft does not say at its top that the event log was not read whole")
	}
}

// An impact time incident.yml cannot place (a time of day without its
// date, an end before the start) is bad input found before any request,
// naming the setting.
func TestImpactTimesCheckedBeforeAnyRequest(t *testing.T) {
	s := standin(t)
	evFile := seedReference(t, s)
	dir := t.TempDir()
	undated := filepath.Join(dir, "incident.yml")
	os.WriteFile(undated, []byte("title: Checkout errors\n"), 0o644)
	for _, c := range []struct {
		file, start, end, says string
	}{
		{undated, "14:12", "", "impact_start"},
		{"testdata/reference/incident.yml", "14:30", "14:12", "impact_end"},
	} {
		env := map[string]string{"CIRCLE_TOKEN": standinToken, "PMGUARD_CIRCLECI_HOST": s.URL(),
			"PMGUARD_POSTMORTEM_EVENT_LOGS": evFile, "PMGUARD_POSTMORTEM_INCIDENT_FILE": c.file, "PMGUARD_POSTMORTEM_OUTPUT_DIR": filepath.Join(dir, "out"),
			"PMGUARD_POSTMORTEM_IMPACT_START": c.start, "PMGUARD_POSTMORTEM_IMPACT_END": c.end, "PMGUARD_EVENTS_FILE": filepath.Join(dir, "ev.jsonl")}
		before := s.Calls()
		out, err := reminderRun(t, nil, env)
		if exitcode.Of(err) != exitcode.BadInput {
			t.Errorf("%+v: exit %d (%v), want 2\n%s", c, exitcode.Of(err), err, out)
			continue
		}
		flag := "--" + strings.ReplaceAll(c.says, "_", "-")
		for _, w := range []string{"invalid " + c.says, "flag " + flag, "env PMGUARD_POSTMORTEM_" + strings.ToUpper(c.says), "accepted: "} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%+v: %q does not say %q", c, err, w)
			}
		}
		if n := s.Calls() - before; n != 0 {
			t.Errorf("%+v: %d CircleCI requests before the input was checked", c, n)
		}
		if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
			t.Errorf("%+v: a draft was written", c)
		}
	}
}
