package notify

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// A thread's first notice carries Slack message metadata naming its
// incident, so that a later job of the pipeline finds the thread in the
// channel's history when the event log of the job that posted it did not
// come along (a failed job skips its persist_to_workspace step).
const metadataType = "pmguard_incident"

// How far back, and through how much of a channel, a thread is looked for.
const (
	threadWindow    = 30 * 24 * time.Hour
	maxHistoryPages = 5  // of 200 top-level messages
	maxChannelPages = 10 // of 1000 channels, to turn a channel name into its ID
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
	params := &slack.GetConversationsParameters{ExcludeArchived: true, Limit: 1000, Types: []string{"public_channel", "private_channel"}}
	for page := 0; page < maxChannelPages; page++ {
		chans, next, err := w.c.GetConversationsContext(ctx, params)
		if err != nil {
			return "", w.classify(ctx, "conversations.list", channel, err)
		}
		for _, c := range chans {
			if c.Name == name {
				w.mu.Lock()
				w.ids[name] = c.ID
				w.mu.Unlock()
				return c.ID, nil
			}
		}
		if next == "" {
			return "", nil
		}
		if next == params.Cursor {
			return "", &SlackError{Method: "conversations.list", Channel: channel, Code: "unexpected_response", Detail: "the same page cursor twice", TokenEnv: w.tokenEnv}
		}
		params.Cursor = next
	}
	return "", &SlackError{Method: "conversations.list", Channel: channel, Code: "too_many_channels",
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
	params := &slack.GetConversationHistoryParameters{ChannelID: id, Limit: 200, IncludeAllMetadata: true,
		Oldest: strconv.FormatInt(since.Unix(), 10)}
	for page := 0; page < maxHistoryPages; page++ {
		h, err := w.c.GetConversationHistoryContext(ctx, params)
		if err != nil {
			return threadRef{}, false, w.classify(ctx, "conversations.history", channel, err)
		}
		for _, m := range h.Messages {
			if ref, ok := marked(m, key, threadID); ok {
				ref.ChannelID = id
				return ref, true, nil
			}
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
