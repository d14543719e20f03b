package notify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
)

// ThreadMessage is one message of an incident thread.
type ThreadMessage struct {
	TS   string
	Time time.Time
	Text string
	// User is the Slack user id of the author ("" for bots); it is for
	// telling people from pmguard's own notices, never for printing.
	User string
	Bot  bool
	// Pinned (pins.list) and Starred (is_starred) mark key moments.
	Pinned, Starred bool
}

// maxThreadPages bounds a thread listing (200 messages a page).
const maxThreadPages = 25

// IncidentThread finds the incident thread among the events read: the
// first notice posted for the incident key (any key when empty). It
// returns the channel id and the thread's ts.
func IncidentThread(evs []events.Event, key string) (channel, ts string, ok bool) {
	var first time.Time
	for _, e := range evs {
		if e.Event != events.Notified || key != "" && e.PipelineID != key {
			continue
		}
		var n events.Notice
		e.Decode(&n)
		t := n.ThreadTS
		if t == "" {
			t = n.TS
		}
		if n.Channel == "" || t == "" || n.Webhook {
			continue
		}
		if !ok || e.Time.Before(first) {
			channel, ts, first, ok = n.Channel, t, e.Time, true
		}
	}
	return channel, ts, ok
}

// ReadThread reads a thread's messages (conversations.replies, every page,
// bounded) and which of them are pinned (pins.list), with notify's Slack
// client: the token in tokenEnv, PMGUARD_SLACK_API_URL, notify's retries
// and error messages.
func (p *Poster) ReadThread(ctx context.Context, tokenEnv config.EnvName, channel, ts string) ([]ThreadMessage, error) {
	o, err := p.options(ctx, channel, tokenEnv, "")
	if err != nil {
		return nil, err
	}
	if err := o.build(); err != nil {
		return nil, err
	}
	if o.p.token == "" {
		return nil, fmt.Errorf("$%s is empty: reading a Slack thread needs a bot token with channels:history", o.p.tokenEnv)
	}
	ctx, cancel := context.WithTimeout(ctx, o.p.timeout)
	defer cancel()
	w := newWebAPI(o.p.token, o.p.apiURL, o.http, o.p.tokenEnv)
	var out []ThreadMessage
	params := &slack.GetConversationRepliesParameters{ChannelID: channel, Timestamp: ts, Limit: 200}
	for page := 0; ; page++ {
		if page == maxThreadPages {
			return out, fmt.Errorf("thread %s in %s: more than %d pages of replies; stopped", ts, channel, page)
		}
		msgs, more, next, err := w.c.GetConversationRepliesContext(ctx, params)
		if err != nil {
			return out, w.classify(ctx, "conversations.replies", channel, err)
		}
		for _, m := range msgs {
			out = append(out, ThreadMessage{TS: m.Timestamp, Time: tsTime(m.Timestamp), Text: m.Text, User: m.User,
				Bot: m.BotID != "" || m.SubType == "bot_message", Starred: m.IsStarred})
		}
		if !more || next == "" {
			break
		}
		if next == params.Cursor {
			return out, fmt.Errorf("thread %s in %s: the same page cursor twice; stopped", ts, channel)
		}
		params.Cursor = next
	}
	pins, _, err := w.c.ListPinsContext(ctx, channel)
	if err != nil {
		return out, w.classify(ctx, "pins.list", channel, err)
	}
	pinned := map[string]bool{}
	for _, it := range pins {
		if it.Message != nil {
			pinned[it.Message.Timestamp] = true
		}
	}
	for i := range out {
		out[i].Pinned = pinned[out[i].TS]
	}
	return out, nil
}

// tsTime reads a Slack ts ("1763648705.000100": seconds.sequence).
func tsTime(ts string) time.Time {
	sec, frac, _ := strings.Cut(ts, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		return time.Time{}
	}
	// The part after the dot keeps messages of one second apart, it is
	// not a fraction of time worth showing.
	_ = frac
	return time.Unix(s, 0).UTC()
}
