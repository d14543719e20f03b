package slacktest

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

func newServer(t *testing.T) *Server {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		for _, v := range s.Violations() {
			t.Errorf("spec violation: %s", v)
		}
	})
	return s
}

func client(s *Server, token string) *slack.Client {
	return slack.New(token, slack.OptionAPIURL(s.APIURL()))
}

func slackCode(err error) string {
	var se slack.SlackErrorResponse
	if errors.As(err, &se) {
		return se.Err
	}
	return ""
}

func TestTokenIsChecked(t *testing.T) {
	s := newServer(t)
	if _, _, err := client(s, "").PostMessage("general", slack.MsgOptionText("x", false)); slackCode(err) != "not_authed" {
		t.Fatalf("no token: %v", err)
	}
	if v := s.TakeViolations(); len(v) != 1 || !strings.Contains(v[0], `required parameter "token" missing`) {
		t.Fatalf("a request without a token is not what the spec allows: %v", v)
	}
	if _, _, err := client(s, "xoxb-wrong").PostMessage("general", slack.MsgOptionText("x", false)); slackCode(err) != "invalid_auth" {
		t.Fatalf("wrong token: %v", err)
	}
	// chat.getPermalink sends the token as a Bearer header, chat.postMessage in the form.
	_, ts, err := client(s, s.Token).PostMessage("general", slack.MsgOptionText("x", false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client(s, s.Token).GetPermalink(&slack.PermalinkParameters{Channel: "general", Ts: ts}); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if reqs[len(reqs)-1].Method != "chat.getPermalink" || !reqs[len(reqs)-1].Bearer {
		t.Fatalf("last request %+v, want a Bearer chat.getPermalink", reqs[len(reqs)-1])
	}
}

func TestMessagesThreadsAndUpdates(t *testing.T) {
	s := newServer(t)
	c := client(s, s.Token)
	ch, ts, err := c.PostMessage("#general", slack.MsgOptionText("parent", false))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d{10}\.\d{6}$`).MatchString(ts) || !strings.HasPrefix(ch, "C") {
		t.Fatalf("channel %q ts %q not in Slack's format", ch, ts)
	}
	if _, _, err := c.PostMessage(ch, slack.MsgOptionText("reply", false), slack.MsgOptionTS(ts)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.UpdateMessage(ch, ts, slack.MsgOptionText("parent, updated", false)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := c.UpdateMessage(ch, "1700000000.999999", slack.MsgOptionText("x", false)); slackCode(err) != "message_not_found" {
		t.Fatalf("update of a missing message: %v", err)
	}
	msgs := s.Messages("general")
	if len(msgs) != 2 || msgs[0].Text != "parent, updated" || msgs[0].Edits != 1 || msgs[1].ThreadTS != ts {
		t.Fatalf("messages %+v", msgs)
	}
	if _, _, err := c.PostMessage("general"); slackCode(err) != "no_text" {
		t.Fatalf("empty message: %v", err)
	}
}

func TestBlockLimitsAreEnforced(t *testing.T) {
	s := newServer(t)
	c := client(s, s.Token)
	long := strings.Repeat("x", 151)
	cases := map[string][]slack.Block{
		"header over 150":   {slack.NewHeaderBlock(slack.NewTextBlockObject("plain_text", long, false, false))},
		"section over 3000": {slack.NewSectionBlock(slack.NewTextBlockObject("mrkdwn", strings.Repeat("y", 3001), false, false), nil, nil)},
		"51 blocks": func() []slack.Block {
			var b []slack.Block
			for i := 0; i < 51; i++ {
				b = append(b, slack.NewDividerBlock())
			}
			return b
		}(),
	}
	for name, blocks := range cases {
		if _, _, err := c.PostMessage("general", slack.MsgOptionText("x", false), slack.MsgOptionBlocks(blocks...)); slackCode(err) != "invalid_blocks" {
			t.Errorf("%s: %v, want invalid_blocks", name, err)
		}
	}
	if got := CheckBlocks([]byte(`[{"type":"section","fields":[` + strings.Repeat(`{"type":"mrkdwn","text":"f"},`, 10) + `{"type":"mrkdwn","text":"f"}]}]`)); got != "invalid_blocks" {
		t.Errorf("11 fields: %q", got)
	}
}

func TestChannelNameRules(t *testing.T) {
	s := newServer(t)
	c := client(s, s.Token)
	cases := map[string]string{
		"":                      "invalid_name_required",
		strings.Repeat("a", 81): "invalid_name_maxlength",
		"Incident":              "invalid_name_specials",
		"inc 1":                 "invalid_name_specials",
		"---":                   "invalid_name_punctuation",
		"general":               "name_taken",
		"inc-20261123-api-1234": "",
		strings.Repeat("a", 80): "",
	}
	for name, want := range cases {
		_, err := c.CreateConversation(slack.CreateConversationParams{ChannelName: name})
		if slackCode(err) != want || want == "" && err != nil {
			t.Errorf("create %q: %v, want %q", name, err, want)
		}
	}
}

func TestFaults(t *testing.T) {
	s := newServer(t)
	c := client(s, s.Token)
	s.Inject(Fault{Method: "chat.postMessage", Status: http.StatusTooManyRequests, RetryAfter: 7})
	_, _, err := c.PostMessage("general", slack.MsgOptionText("x", false))
	var rl *slack.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter.Seconds() != 7 {
		t.Fatalf("429: %v", err)
	}
	s.Inject(Fault{Method: "chat.postMessage", Status: http.StatusServiceUnavailable})
	_, _, err = c.PostMessage("general", slack.MsgOptionText("x", false))
	var sc slack.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != 503 {
		t.Fatalf("503: %v", err)
	}
	s.Inject(Fault{Method: "chat.postMessage", Code: "missing_scope", Needed: "chat:write"})
	_, _, err = c.PostMessage("general", slack.MsgOptionText("x", false))
	var se slack.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "missing_scope" || se.Needed != "chat:write" {
		t.Fatalf("missing_scope: %v", err)
	}
	if _, _, err := c.PostMessage("general", slack.MsgOptionText("x", false)); err != nil {
		t.Fatalf("faults did not run out: %v", err)
	}
}

func TestScheduleLimits(t *testing.T) {
	s := newServer(t)
	c := client(s, s.Token)
	now := s.Now().Unix()
	post := func(at int64) error {
		_, _, err := c.ScheduleMessage("general", itoa(at), slack.MsgOptionText("x", false))
		return err
	}
	if err := post(now - 1); slackCode(err) != "time_in_past" {
		t.Fatalf("past: %v", err)
	}
	if err := post(now + 121*24*3600); slackCode(err) != "time_too_far" {
		t.Fatalf("too far: %v", err)
	}
	s.MaxScheduledPerWindow = 2
	for i := 0; i < 2; i++ {
		if err := post(now + 3600 + int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := post(now + 3600 + 60); slackCode(err) != "restricted_too_many" {
		t.Fatalf("crowded: %v", err)
	}
	if err := post(now + 7200); err != nil {
		t.Fatalf("an hour later is free: %v", err)
	}
	if n := len(s.Scheduled()); n != 3 {
		t.Fatalf("%d scheduled", n)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// chat.scheduledMessages.list pages through what is still waiting, per
// channel ID, and every answer matches Slack's spec.
func TestListScheduled(t *testing.T) {
	s := newServer(t)
	c := client(s, s.Token)
	other := s.AddChannel("other", true)
	general, _ := s.Channel("general")
	now := s.Now().Unix()
	for i := int64(1); i <= 5; i++ {
		ch := general.ID
		if i == 5 {
			ch = other
		}
		if _, _, err := c.ScheduleMessage(ch, itoa(now+3600*i), slack.MsgOptionText("m"+itoa(i), false)); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	params := &slack.GetScheduledMessagesParameters{Channel: general.ID}
	for pages := 0; ; pages++ {
		msgs, next, err := c.GetScheduledMessages(params)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m.Channel != general.ID || m.PostAt <= int(now) || m.DateCreated == 0 {
				t.Errorf("listed %+v", m)
			}
			got = append(got, m.Text)
		}
		if next == "" {
			break
		}
		if pages > 5 {
			t.Fatal("endless pages")
		}
		params.Cursor = next
	}
	if strings.Join(got, ",") != "m1,m2,m3,m4" {
		t.Errorf("listed %v", got)
	}
	if _, _, err := c.GetScheduledMessages(&slack.GetScheduledMessagesParameters{Channel: "general"}); slackCode(err) != "invalid_channel" {
		t.Errorf("a channel name: %v", err)
	}
	if v := s.Violations(); len(v) > 0 {
		t.Errorf("violations: %v", v)
	}
}

func TestMetadataAndHistory(t *testing.T) {
	s := newServer(t)
	c := client(s, s.Token)
	ctx := t.Context()
	id := s.AddChannel("deploys", true)
	meta := slack.SlackMetadata{EventType: "pmguard_incident", EventPayload: map[string]any{"incident_key": "k1"}}
	_, parent, err := c.PostMessageContext(ctx, "deploys", slack.MsgOptionText("first", false), slack.MsgOptionMetadata(meta))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.PostMessageContext(ctx, "deploys", slack.MsgOptionText("reply", false), slack.MsgOptionTS(parent)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, _, err := c.PostMessageContext(ctx, "deploys", slack.MsgOptionText("later", false)); err != nil {
			t.Fatal(err)
		}
	}
	// Bad metadata is refused, as Slack refuses it.
	_, _, err = c.PostMessageContext(ctx, "deploys", slack.MsgOptionText("x", false), slack.MsgOptionMetadata(slack.SlackMetadata{EventPayload: map[string]any{"a": 1}}))
	if slackCode(err) != "invalid_metadata_schema" {
		t.Fatalf("metadata without event_type: %v", err)
	}
	// An update without metadata keeps it.
	if _, _, _, err := c.UpdateMessageContext(ctx, id, parent, slack.MsgOptionText("first, edited", false)); err != nil {
		t.Fatal(err)
	}

	// Newest first, top-level only, two a page; metadata only when asked.
	var seen []slack.Message
	params := &slack.GetConversationHistoryParameters{ChannelID: id, Limit: 2, IncludeAllMetadata: true}
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("history does not end")
		}
		h, err := c.GetConversationHistoryContext(ctx, params)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, h.Messages...)
		if !h.HasMore {
			break
		}
		params.Cursor = h.ResponseMetaData.NextCursor
	}
	if len(seen) != 4 || seen[3].Timestamp != parent || seen[3].Text != "first, edited" || seen[0].Timestamp <= seen[1].Timestamp {
		t.Fatalf("history: %+v", seen)
	}
	if seen[3].Metadata.EventType != "pmguard_incident" || seen[3].Metadata.EventPayload["incident_key"] != "k1" || seen[0].Metadata.EventType != "" {
		t.Fatalf("metadata: %+v / %+v", seen[3].Metadata, seen[0].Metadata)
	}
	h, err := c.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: id, Oldest: parent})
	if err != nil || len(h.Messages) != 3 {
		t.Fatalf("oldest is exclusive: %d messages, %v", len(h.Messages), err)
	}
	if h.Messages[0].Metadata.EventType != "" {
		t.Fatal("metadata without include_all_metadata")
	}
	// A name is not an ID; a channel the app is not in cannot be read.
	if _, err := c.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: "deploys"}); slackCode(err) != "channel_not_found" {
		t.Fatalf("history by name: %v", err)
	}
	other := s.AddChannel("elsewhere", false)
	if _, err := c.GetConversationHistoryContext(ctx, &slack.GetConversationHistoryParameters{ChannelID: other}); slackCode(err) != "not_in_channel" {
		t.Fatalf("history of a channel the app is not in: %v", err)
	}
}

func TestConversationsList(t *testing.T) {
	s := newServer(t)
	c := client(s, s.Token)
	for i := 0; i < 4; i++ {
		s.AddChannel(fmt.Sprintf("team-%d", i), false)
	}
	s.Archive("team-2")
	var names []string
	params := &slack.GetConversationsParameters{Limit: 2, ExcludeArchived: true}
	for pages := 0; ; pages++ {
		if pages > 4 {
			t.Fatal("the list does not end")
		}
		chans, next, err := c.GetConversationsContext(t.Context(), params)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range chans {
			names = append(names, ch.Name)
		}
		if next == "" {
			break
		}
		params.Cursor = next
	}
	if strings.Join(names, ",") != "general,team-0,team-1,team-3" {
		t.Fatalf("channels: %v", names)
	}
}
