package notify

import (
	"context"
	"errors"
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
	w, ctx, cancel, err := p.reader(ctx, tokenEnv, channel)
	if err != nil {
		return nil, err
	}
	defer cancel()
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

// FindThread finds incident key's thread in channel from Slack alone, as a
// notice does when its event log lacks it: the first notice pmguard marked
// for the incident among the channel's recent top-level messages. It
// returns the channel's ID and the thread's ts.
func (p *Poster) FindThread(ctx context.Context, tokenEnv config.EnvName, channel, key string) (string, string, bool, error) {
	w, ctx, cancel, err := p.reader(ctx, tokenEnv, channel)
	if err != nil {
		return "", "", false, err
	}
	defer cancel()
	ref, ok, err := w.findMarked(ctx, channel, key, "", p.d.Now().Add(-threadWindow))
	return ref.ChannelID, ref.TS, ok, err
}

// reader is notify's Slack client for reading channel, with the token in
// tokenEnv and a context bounded by notify's timeout.
func (p *Poster) reader(ctx context.Context, tokenEnv config.EnvName, channel string) (*webAPI, context.Context, context.CancelFunc, error) {
	o, err := p.options(ctx, channel, tokenEnv, "")
	if err != nil {
		return nil, nil, nil, err
	}
	if err := o.build(); err != nil {
		return nil, nil, nil, err
	}
	if o.p.token == "" {
		return nil, nil, nil, fmt.Errorf("$%s is empty: reading a Slack thread needs a bot token with channels:history", o.p.tokenEnv)
	}
	ctx, cancel := context.WithTimeout(ctx, o.p.timeout)
	return newWebAPI(o.p.token, o.p.apiURL, o.http, o.p.tokenEnv, o.d.Now), ctx, cancel, nil
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

// A thread's first notice carries Slack message metadata naming its
// incident, so that a later job of the pipeline finds the thread in the
// channel's history when the event log of the job that posted it did not
// come along (a failed job skips its persist_to_workspace step).
const metadataType = "pmguard_incident"

// How far back, and through how much of a channel, a thread is looked for.
// Pages are kept small (Slack advises at most 200 items) so that one answer
// stays well within maxAnswer: a notice with its blocks is a few KB, a
// channel with its topic and purpose about one.
const (
	threadWindow    = 30 * 24 * time.Hour
	historyPage     = 100
	maxHistoryPages = 10 // 1,000 top-level messages
	channelPage     = 200
	maxChannelPages = 25 // 5,000 channels, to turn a channel name into its ID
)

// noticeMetadata marks a thread's first notice (or an incident channel's)
// for incident key, in the thread thread_id names when set; nil without a
// key. It holds identifiers only, never the notice's content.
func noticeMetadata(key, threadID, template string) *slack.SlackMetadata {
	if key == "" {
		return nil
	}
	p := map[string]any{"incident_key": key, "template": template}
	if threadID != "" {
		p["thread_id"] = threadID
	}
	return &slack.SlackMetadata{EventType: metadataType, EventPayload: p}
}

// channelID returns the ID of channel, a name or an ID, reading the
// workspace's channel list (bounded) for a name; "" when no channel the app
// can see has that name.
func (w *webAPI) channelID(ctx context.Context, channel string) (string, error) {
	if isChannelID(channel) {
		return channel, nil
	}
	name := strings.TrimPrefix(channel, "#")
	w.mu.Lock()
	id, known := w.ids[name]
	w.mu.Unlock()
	if known {
		return id, nil
	}
	c, err := w.findChannel(ctx, channel, func(c slack.Channel) bool { return c.Name == name })
	if err != nil || c == nil {
		return "", err
	}
	w.mu.Lock()
	w.ids[name] = c.ID
	w.mu.Unlock()
	return c.ID, nil
}

// findChannel returns the first channel of the workspace's list (bounded)
// that match accepts, or nil; channel names the lookup in errors.
func (w *webAPI) findChannel(ctx context.Context, channel string, match func(slack.Channel) bool) (*slack.Channel, error) {
	params := &slack.GetConversationsParameters{ExcludeArchived: true, Limit: channelPage, Types: []string{"public_channel", "private_channel"}}
	for page := 0; page < maxChannelPages; page++ {
		chans, next, err := w.c.GetConversationsContext(ctx, params)
		var se slack.SlackErrorResponse
		if errors.As(err, &se) && se.Err == "missing_scope" && len(params.Types) > 1 && page == 0 {
			// Private channels need groups:read as well; a token with
			// channels:read alone still lists the public ones.
			params.Types = params.Types[:1]
			chans, next, err = w.c.GetConversationsContext(ctx, params)
		}
		if err != nil {
			return nil, w.classify(ctx, "conversations.list", channel, err)
		}
		for i := range chans {
			if match(chans[i]) {
				return &chans[i], nil
			}
		}
		if next == "" {
			return nil, nil
		}
		if next == params.Cursor {
			return nil, &SlackError{Method: "conversations.list", Channel: channel, Code: "unexpected_response", Detail: "the same page cursor twice", TokenEnv: w.tokenEnv}
		}
		params.Cursor = next
	}
	return nil, &SlackError{Method: "conversations.list", Channel: channel, Code: "too_many_channels",
		Detail: fmt.Sprintf("not among the first %d pages of channels", maxChannelPages), TokenEnv: w.tokenEnv}
}

// findMarked returns the newest top-level message of channel posted since
// since that pmguard marked for incident key in thread threadID ("" for
// the incident's own thread).
func (w *webAPI) findMarked(ctx context.Context, channel, key, threadID string, since time.Time) (threadRef, bool, error) {
	id, err := w.channelID(ctx, channel)
	if err != nil || id == "" {
		return threadRef{}, false, err
	}
	return w.findInHistory(ctx, channel, id, since, func(msgs []slack.Message) (threadRef, bool) {
		for _, m := range msgs {
			if ref, ok := marked(m, key, threadID); ok {
				ref.ChannelID = id
				return ref, true
			}
		}
		return threadRef{}, false
	})
}

// findInHistory returns what found picks from the top-level messages of
// channel id (named channel in errors) posted since since, newest page
// first, reading at most maxHistoryPages pages.
func (w *webAPI) findInHistory(ctx context.Context, channel, id string, since time.Time, found func([]slack.Message) (threadRef, bool)) (threadRef, bool, error) {
	params := &slack.GetConversationHistoryParameters{ChannelID: id, Limit: historyPage, IncludeAllMetadata: true,
		Oldest: strconv.FormatInt(since.Unix(), 10)}
	for page := 0; page < maxHistoryPages; page++ {
		h, err := w.c.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return threadRef{}, false, w.classify(ctx, "conversations.history", channel, err)
		}
		if ref, ok := found(h.Messages); ok {
			return ref, true, nil
		}
		next := h.ResponseMetaData.NextCursor
		if !h.HasMore || next == "" || next == params.Cursor {
			break
		}
		params.Cursor = next
	}
	return threadRef{}, false, nil
}

// marked reads a message's metadata: whether pmguard marked it as the
// first notice of incident key's thread threadID.
func marked(m slack.Message, key, threadID string) (threadRef, bool) {
	md := m.Metadata
	if md.EventType != metadataType || m.ThreadTimestamp != "" && m.ThreadTimestamp != m.Timestamp {
		return threadRef{}, false
	}
	k, _ := md.EventPayload["incident_key"].(string)
	t, _ := md.EventPayload["thread_id"].(string)
	if k != key || t != threadID {
		return threadRef{}, false
	}
	tmpl, _ := md.EventPayload["template"].(string)
	return threadRef{TS: m.Timestamp, Template: tmpl}, true
}

// thread finds the thread this notice belongs in, in ch: the incident's,
// or thread_id's when set. The event log says first; else the channel's
// recent history, by the metadata on the thread's first notice. A history
// that cannot be read costs the thread, not the notice.
func (r *run) thread(ctx context.Context, ch string) (threadRef, bool) {
	if r.p.threadID != "" {
		if ref, ok := findNamedThread(r.evs, r.key, r.p.threadID, ch); ok {
			return ref, true
		}
	} else if ref, ok := findThread(r.evs, r.key, ch); ok {
		return ref, true
	}
	if r.api == nil || r.key == "" {
		return threadRef{}, false
	}
	ref, ok, err := r.api.findMarked(ctx, ch, r.key, r.p.threadID, r.o.d.Now().Add(-threadWindow))
	if err != nil {
		fmt.Fprintf(r.out, "pmguard notify: the thread is not in this job's event log, and Slack's history of %s could not be searched for it: %v; posting a new message\n", channelLabel(ch), err)
		return threadRef{}, false
	}
	if ok {
		fmt.Fprintf(r.out, "pmguard notify: found the thread's first notice in %s by its pipeline (ts %s)\n", channelLabel(ch), ref.TS)
	}
	return ref, ok
}
