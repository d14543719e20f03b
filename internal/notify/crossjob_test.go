package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/notify/slacktest"
)

// newJob starts another job of the same pipeline: a fresh event log, as a
// job has when the failed job's persist_to_workspace step never ran.
func (h *harness) newJob() {
	h.events = filepath.Join(h.t.TempDir(), "events.jsonl")
}

// deployFailed is the deploy job's failure notice, the thread's parent.
func (h *harness) deployFailed() slacktest.Message {
	h.t.Helper()
	h.appendEvents(canaryFailure())
	s := h.settings()
	s.Template = DeployFailed
	if res := h.run(s); res.err != nil {
		h.t.Fatal(res.err)
	}
	msgs := h.slack.Messages("incidents")
	return msgs[len(msgs)-1]
}

func TestThreadFoundInSlackFromAnotherJob(t *testing.T) {
	h := newHarness(t)
	// Another pipeline's incident in the same channel, earlier: its thread
	// is not this one's.
	other := h.env["CIRCLE_PIPELINE_ID"]
	h.env["CIRCLE_PIPELINE_ID"] = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
	h.deployFailed()
	h.env["CIRCLE_PIPELINE_ID"] = other
	h.newJob()

	parent := h.deployFailed()
	var meta struct {
		EventType    string            `json:"event_type"`
		EventPayload map[string]string `json:"event_payload"`
	}
	b, _ := json.Marshal(parent.Metadata)
	json.Unmarshal(b, &meta)
	if meta.EventType != "pmguard_incident" || meta.EventPayload["incident_key"] != other || meta.EventPayload["template"] != DeployFailed {
		t.Fatalf("the parent's metadata does not name its incident: %s", b)
	}
	if strings.Contains(string(b), h.slack.Token) {
		t.Fatal("the metadata holds the token")
	}
	// The channel goes on: 150 messages of people after the parent, so the
	// parent is on the second page of the channel's history.
	for i := 0; i < 150; i++ {
		h.clock.Sleep(t.Context(), time.Second)
		h.slack.Seed(slacktest.Message{Channel: "incidents", TS: fmt.Sprintf("%d.%06d", h.clock.Now().Unix(), i), Text: "chatter", User: "U0PEOPLE01"})
	}

	// The rollback job: its event log holds nothing of the deploy job.
	h.newJob()
	h.clock.Sleep(t.Context(), 2*time.Hour)
	h.appendEvents(rollbackInitiated())
	before := h.slack.Calls("conversations.history")
	s := h.settings()
	s.Template = RollbackStarted
	res := h.run(s)
	if res.err != nil {
		t.Fatal(res.err)
	}
	mustContain(t, "output", res.out, "found the thread's first notice in #incidents by its pipeline (ts "+parent.TS+")",
		"replied with ROLLBACK_STARTED in the incident's thread", "updated the status line")
	if n := h.slack.Calls("conversations.history") - before; n != 2 {
		t.Fatalf("conversations.history called %d times, want 2 (the parent is on the second page)", n)
	}

	// A later notice of the same job finds the thread in its own event log.
	h.appendEvents(events.Event{Verb: "rollback", Event: "rollback_completed", Target: "v1.4.2"})
	before = h.slack.Calls("conversations.history")
	s.Template = RollbackSucceeded
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	if n := h.slack.Calls("conversations.history") - before; n != 0 {
		t.Fatalf("conversations.history called %d times for a thread the event log names", n)
	}

	var replies []slacktest.Message
	var updated slacktest.Message
	for _, m := range h.slack.Messages("incidents") {
		switch {
		case m.TS == parent.TS:
			updated = m
		case m.ThreadTS == parent.TS:
			replies = append(replies, m)
		case m.User == "" && m.TS > parent.TS:
			t.Errorf("a notice of the incident started a new message (ts %s):\n%s", m.TS, blockText(m.Blocks))
		}
	}
	if len(replies) != 2 || updated.Edits != 2 {
		t.Fatalf("%d replies in the thread and %d updates of its parent, want 2 and 2", len(replies), updated.Edits)
	}
	mustContain(t, "updated parent", blockText(updated.Blocks), "rolled back, resolved", "rollback pipeline #568")
	if updated.Metadata == nil {
		t.Fatal("updating the parent dropped its metadata")
	}
}

func TestThreadByChannelIDNeedsNoChannelList(t *testing.T) {
	h := newHarness(t)
	id := h.slack.AddChannel("deploys", true)
	s := h.settings()
	s.Channel[0] = id
	s.Template = DeployFailed
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	h.newJob()
	s.EventsFile = h.events
	s.Template = RollbackFailed
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	msgs := h.slack.Messages(id)
	if len(msgs) != 2 || msgs[1].ThreadTS != msgs[0].TS {
		t.Fatalf("the second job's notice is not in the first's thread: %+v", msgs)
	}
	if n := h.slack.Calls("conversations.list"); n != 0 {
		t.Fatalf("conversations.list called %d times for a channel given as its ID", n)
	}
}

func TestThreadLookupFailureCostsTheThreadNotTheNotice(t *testing.T) {
	cases := []struct {
		name  string
		fault slacktest.Fault
		say   []string
	}{
		{"no history scope", slacktest.Fault{Method: "conversations.history", Code: "missing_scope", Needed: "channels:history"},
			[]string{"missing_scope", "add the scope channels:history"}},
		{"no channel list scope", slacktest.Fault{Method: "conversations.list", Code: "missing_scope", Needed: "channels:read", Times: 2},
			[]string{"conversations.list", "add the scope channels:read"}},
		{"history down", slacktest.Fault{Method: "conversations.history", Status: 503, Times: 10}, []string{"http_503", "on each of 4 attempts"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t)
			h.deployFailed()
			h.newJob()
			h.slack.Inject(c.fault)
			s := h.settings()
			s.Template = RollbackStarted
			s.FailOnError = true
			res := h.run(s)
			if res.err != nil {
				t.Fatalf("a thread that could not be looked up failed the notice: %v", res.err)
			}
			mustContain(t, "output", res.out, append([]string{"could not be searched for it", "posting a new message"}, c.say...)...)
			msgs := h.slack.Messages("incidents")
			if len(msgs) != 2 || msgs[1].ThreadTS != "" {
				t.Fatalf("want the notice posted as a new message, got %+v", msgs)
			}
			if len(h.readEvents(events.NotifyFailed)) != 0 {
				t.Fatal("a thread lookup that failed was recorded as a failed notice")
			}
		})
	}
}

// A token without groups:read cannot list private channels; the public
// ones are listed and the thread found.
func TestThreadFoundWithoutPrivateChannelScope(t *testing.T) {
	h := newHarness(t)
	parent := h.deployFailed()
	h.newJob()
	h.slack.Inject(slacktest.Fault{Method: "conversations.list", Code: "missing_scope", Needed: "groups:read"})
	s := h.settings()
	s.Template = RollbackStarted
	res := h.run(s)
	if res.err != nil {
		t.Fatal(res.err)
	}
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 2 || msgs[1].ThreadTS != parent.TS {
		t.Fatalf("the notice is not in the thread: %+v\n%s", msgs, res.out)
	}
	reqs := h.slack.Requests()
	last := ""
	for _, r := range reqs {
		if r.Method == "conversations.list" {
			last = r.Params.Get("types")
		}
	}
	if last != "public_channel" {
		t.Fatalf("the second listing asked for types %q, want public_channel", last)
	}
}

func TestThreadOlderThanTheWindowIsNotJoined(t *testing.T) {
	h := newHarness(t)
	h.deployFailed()
	h.newJob()
	h.clock.Sleep(t.Context(), threadWindow+time.Hour)
	s := h.settings()
	s.Template = RollbackStarted
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 2 || msgs[1].ThreadTS != "" {
		t.Fatalf("a notice joined a thread older than %s: %+v", threadWindow, msgs)
	}
}

func TestNamedThreadFromAnotherJob(t *testing.T) {
	h := newHarness(t)
	s := h.settings()
	s.ThreadID = "release-42"
	s.Template = DeploySucceeded
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	// An incident thread of the same pipeline is not thread_id's.
	h.deployFailed()
	h.newJob()
	s.EventsFile = h.events
	s.Template = RollbackSucceeded
	s.JobStatus = "pass"
	res := h.run(s)
	if res.err != nil {
		t.Fatal(res.err)
	}
	msgs := h.slack.Messages("incidents")
	if len(msgs) != 3 || msgs[2].ThreadTS != msgs[0].TS {
		t.Fatalf("the second job's notice is not in thread release-42: %+v\n%s", msgs, res.out)
	}
	mustContain(t, "output", res.out, `replied with ROLLBACK_SUCCEEDED in thread "release-42"`)
}

func TestIncidentChannelFromAnotherJob(t *testing.T) {
	h := newHarness(t)
	h.appendEvents(canaryFailure())
	s := h.settings()
	s.Template = DeployFailed
	s.IncidentChannel = true
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	ch, ok := h.slack.Channel("inc-20261123-api-567")
	if !ok {
		t.Fatal("no incident channel")
	}

	h.newJob()
	s.EventsFile = h.events
	s.Template = RollbackFailed
	res := h.run(s)
	if res.err != nil {
		t.Fatal(res.err)
	}
	mustContain(t, "output", res.out, "#inc-20261123-api-567 is this incident's channel already")
	if _, made := h.slack.Channel("inc-20261123-api-567-2"); made {
		t.Fatal("a second incident channel was created for the same incident")
	}
	if n := len(h.slack.Messages(ch.ID)); n != 2 {
		t.Fatalf("%d messages in the incident channel, want 2", n)
	}
	main := h.slack.Messages("incidents")
	if len(main) != 2 || main[1].ThreadTS != main[0].TS {
		t.Fatalf("the main channel's notice is not in the incident's thread: %+v", main)
	}

	// Another pipeline's incident of the same day gets a channel of its own.
	h.env["CIRCLE_PIPELINE_ID"] = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c6b"
	h.newJob()
	s.EventsFile = h.events
	s.Template = DeployFailed
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	if _, made := h.slack.Channel("inc-20261123-api-567-2"); !made {
		t.Fatal("another incident took over this incident's channel")
	}
}

func TestReminderThreadFromAnotherJob(t *testing.T) {
	h := newHarness(t)
	parent := h.deployFailed()
	h.newJob()
	var out, errw bytes.Buffer
	d := h.deps(&out, &errw)
	log, err := d.Events(h.events)
	if err != nil {
		t.Fatal(err)
	}
	err = NewPoster(d, log).Schedule(t.Context(), Reminder{Channel: "incidents", Thread: true, IncidentKey: h.env["CIRCLE_PIPELINE_ID"],
		PostAt: h.clock.Now().Add(48 * time.Hour), Text: "Post-mortem review today", Marker: "Post-mortem review"})
	if err != nil {
		t.Fatal(err)
	}
	sch := h.slack.Scheduled()
	if len(sch) != 1 || sch[0].ThreadTS != parent.TS {
		t.Fatalf("the reminder is not in the incident's thread (ts %s): %+v\n%s%s", parent.TS, sch, out.String(), errw.String())
	}
}

// The search reads a bounded part of a busy channel: a parent further back
// than maxHistoryPages pages is not found, and the notice is posted anew.
func TestThreadSearchIsBounded(t *testing.T) {
	h := newHarness(t)
	h.deployFailed()
	for i := 0; i < maxHistoryPages*historyPage+5; i++ {
		h.slack.Seed(slacktest.Message{Channel: "incidents", TS: fmt.Sprintf("%d.%06d", h.clock.Now().Unix()+1, i), Text: "chatter", User: "U0PEOPLE01"})
	}
	h.newJob()
	before := h.slack.Calls("conversations.history")
	s := h.settings()
	s.Template = RollbackStarted
	if res := h.run(s); res.err != nil {
		t.Fatal(res.err)
	}
	if n := h.slack.Calls("conversations.history") - before; n != maxHistoryPages {
		t.Fatalf("conversations.history called %d times, want %d", n, maxHistoryPages)
	}
	msgs := h.slack.Messages("incidents")
	if last := msgs[len(msgs)-1]; last.ThreadTS != "" || last.User != "" {
		t.Fatalf("want the notice posted as a new message, got %+v", last)
	}
}
