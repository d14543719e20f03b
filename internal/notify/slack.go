package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/slack-go/slack"

	"github.com/pmguard/pmguard/internal/httpx"
)

// SlackError is a Slack call that failed for good, with the code Slack gave
// (or one pmguard names for a transport failure) and what to do about it.
type SlackError struct {
	Method   string // chat.postMessage, or "webhook"
	Channel  string // as configured, for the message
	Code     string // Slack's error code: not_in_channel, missing_scope, ...
	Needed   string // the scope missing_scope asks for
	Detail   string // extra context (attempts made, HTTP status)
	TokenEnv string
}

func (e *SlackError) Error() string {
	where := e.Method
	if e.Channel != "" {
		where += " to " + channelLabel(e.Channel)
	}
	s := fmt.Sprintf("Slack %s failed: %s", where, e.Code)
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	if fix := e.Fix(); fix != "" {
		s += ". Fix: " + fix
	}
	return s
}

// Fix says what the user can do about the error.
func (e *SlackError) Fix() string {
	tokenEnv := e.TokenEnv
	if tokenEnv == "" {
		tokenEnv = "SLACK_ACCESS_TOKEN"
	}
	ch := channelLabel(e.Channel)
	switch e.Code {
	case "not_in_channel":
		return fmt.Sprintf("invite the Slack app to %s (type /invite @your-app in that channel)", ch)
	case "channel_not_found":
		return fmt.Sprintf("check the channel name or ID %s; a private channel must invite the app first", ch)
	case "invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive":
		return fmt.Sprintf("$%s does not hold a valid token: set it to the app's Bot User OAuth Token (xoxb-...) from OAuth & Permissions", tokenEnv)
	case "missing_scope":
		need := e.Needed
		if need == "" {
			need = scopeFor(e.Method)
		}
		return fmt.Sprintf("add the scope %s to the Slack app (OAuth & Permissions > Bot Token Scopes), then reinstall it to the workspace", need)
	case "is_archived", "channel_is_archived":
		return fmt.Sprintf("%s is archived: unarchive it or set another channel", ch)
	case "restricted_action":
		return "the workspace's settings do not let the app do this; ask a Slack admin"
	case "rate_limited", "ratelimited":
		return "raise notify's timeout or send fewer notices"
	case "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "invalid_payload", "invalid_attachments":
		return "Slack refused the message's content: check the custom template in Slack's Block Kit Builder"
	case "no_service", "invalid_token", "no_team", "action_prohibited":
		return "the incoming webhook URL is revoked or wrong: create a new one and store it in the webhook env var"
	case "unconfirmed":
		return fmt.Sprintf("look in %s: the call was not repeated, so that nothing is posted twice; reading whether it was done needs the scope channels:history (groups:history for a private channel)", ch)
	case "unreachable", "timeout":
		return "Slack could not be reached; the notice is lost but the deploy guard is not affected"
	}
	switch {
	case e.Code == "http_401" || e.Code == "http_403":
		if e.Method == "webhook" {
			return "the incoming webhook URL was refused: create a new one and store it in the webhook env var"
		}
		return fmt.Sprintf("Slack refused the credentials: check that $%s holds the app's Bot User OAuth Token (xoxb-...)", tokenEnv)
	case e.Code == "http_404":
		return "nothing answers at that address: check the Slack API URL (PMGUARD_SLACK_API_URL) or the webhook URL"
	case strings.HasPrefix(e.Code, "http_5"):
		return "Slack answered with a server error; it is usually brief"
	case e.Code == "unexpected_response":
		return "the answer is not Slack's: check the Slack API URL (PMGUARD_SLACK_API_URL), or a proxy in between"
	case strings.HasPrefix(e.Code, "http_"):
		return "Slack refused the request"
	}
	if e.Method != "" && e.Method != "webhook" {
		return "see https://api.slack.com/methods/" + e.Method + "#errors"
	}
	return ""
}

// scopeFor is the bot scope a method needs, for a missing_scope without "needed".
func scopeFor(method string) string {
	switch method {
	case "chat.postMessage", "chat.update", "chat.scheduleMessage":
		return "chat:write"
	case "conversations.create", "conversations.setTopic", "conversations.invite":
		return "channels:manage"
	case "users.lookupByEmail":
		return "users:read.email"
	case "conversations.history":
		return "channels:history (groups:history for a private channel)"
	case "conversations.list":
		return "channels:read (groups:read for a private channel), or give the channel as its ID (C...)"
	}
	return "(see the method's documentation)"
}

func channelLabel(c string) string {
	if c == "" || strings.HasPrefix(c, "C") && strings.ToUpper(c) == c || strings.HasPrefix(c, "G") && strings.ToUpper(c) == c {
		return c
	}
	return "#" + c
}

// slackRetry is httpx's retry policy (transport errors, 429 with its
// Retry-After, 5xx) plus Slack's own "ok": false answers worth another try.
// Slack answers most failures with HTTP 200 and an error code, which
// slack-go never retries. Of those, service_unavailable, request_timeout and
// ratelimited mean nothing was done, so any call may be repeated;
// internal_error and fatal_error may come after part of the work was done
// (Slack's method docs say so), so only calls that are safe to repeat are:
// a second chat.postMessage or conversations.create could post twice or
// make a second channel.
func slackRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if err != nil || resp == nil || resp.StatusCode != http.StatusOK || ctx.Err() != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	// Whatever its Content-Type: slack-go decodes any 200 as JSON, and a
	// JSON string that never ends would otherwise be read whole.
	body, truncated, err := httpx.ReadLimited(resp.Body, maxAnswer)
	resp.Body.Close()
	// slack-go decodes what is left: a cut answer ends in an error saying
	// so, not in a JSON error about a truncated document.
	var rest io.Reader = eofReader{}
	switch {
	case err != nil:
		rest = errReader{fmt.Errorf("%w: %v", errAnswerCut, err)}
	case truncated:
		rest = errReader{errAnswerTooLarge}
	}
	resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(body), rest))
	if err != nil || truncated {
		return false, nil
	}
	var answer struct {
		OK    bool   `json:"ok"`
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &answer) != nil || answer.OK {
		return false, nil
	}
	switch answer.Error {
	case "service_unavailable", "request_timeout", "ratelimited", "rate_limited":
		return true, nil
	case "internal_error", "fatal_error":
		return repeatable[path.Base(resp.Request.URL.Path)], nil
	}
	return false, nil
}

// maxAnswer bounds a Slack Web API answer: a larger one is not Slack's.
const maxAnswer = 1 << 20

var (
	errAnswerTooLarge = fmt.Errorf("HTTP 200 with an answer larger than %d MiB", maxAnswer>>20)
	errAnswerCut      = errors.New("HTTP 200 with an answer cut short")
)

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// unexpected says why an error slack-go returned for an HTTP 200 means the
// answer was not Slack's (not JSON, not the shape of a Slack answer, too
// large, cut short), or "" when it is another error.
func unexpected(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return "" // the request failed: no answer was read
	}
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, errAnswerTooLarge), errors.Is(err, errAnswerCut):
		return err.Error()
	case errors.As(err, &syn):
		return fmt.Sprintf("HTTP 200 but not JSON (%v)", syn)
	case errors.As(err, &typ):
		return fmt.Sprintf("HTTP 200 but not the shape of Slack's answer (field %s is a JSON %s)", typ.Field, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "HTTP 200 with JSON cut short"
	}
	return ""
}

// repeatable are the methods whose repetition changes nothing.
var repeatable = map[string]bool{
	"chat.scheduledMessages.list": true, "chat.update": true, "conversations.setTopic": true, "conversations.invite": true, "users.lookupByEmail": true,
}

// classify turns what slack-go returned, after httpx's retries, into a
// *SlackError saying what happened.
func classify(ctx context.Context, method, channel, tokenEnv string, attempts int, err error) error {
	if err == nil {
		return nil
	}
	e := &SlackError{Method: method, Channel: channel, TokenEnv: tokenEnv}
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	var we *httpx.WaitError
	var un *httpx.Unconfirmed
	switch {
	case errors.As(err, &we):
		e.Code, e.Detail = waitCode(we), waitDetail(we)
	case errors.As(err, &un):
		e.Code, e.Detail = "unconfirmed", fmt.Sprintf("%s, after which Slack may have done it; checking failed (%v)", un.Last, un.Err)
	case errors.As(err, &rl):
		e.Code, e.Detail = "rate_limited", rateLimitDetail(attempts)
	case errors.As(err, &sc) && sc.Code == http.StatusTooManyRequests:
		e.Code, e.Detail = "rate_limited", fmt.Sprintf("still rate limited after %d attempts", attempts)
	case errors.As(err, &sc):
		e.Code = "http_" + strconv.Itoa(sc.Code)
		if sc.Code >= 500 {
			e.Detail = finalDetail(ctx, "HTTP "+strconv.Itoa(sc.Code), attempts)
		}
	case errors.As(err, &se) && !isCode(se.Err):
		// Not one of Slack's codes: a page or a message, not quoted.
		e.Code, e.Detail = "unexpected_response", fmt.Sprintf(`HTTP 200 whose "error" (%d bytes) is not a Slack error code`, len(se.Err))
	case errors.As(err, &se):
		e.Code, e.Needed = se.Err, se.Needed
		if retriedCode(method, se.Err) {
			e.Detail = finalDetail(ctx, se.Err, attempts)
		}
	case unexpected(err) != "":
		e.Code, e.Detail = "unexpected_response", unexpected(err)
	case !errors.As(err, new(*url.Error)):
		// Not a request that failed (those are *url.Error): slack-go's
		// errors.New of the answer's "error", for the methods that read
		// "ok" themselves (pins.list, conversations.history ...). It is
		// Slack's code, or the answer was not Slack's: no code at all ({},
		// null), or a page.
		switch code := err.Error(); {
		case isCode(code):
			e.Code = code
			if retriedCode(method, code) {
				e.Detail = finalDetail(ctx, code, attempts)
			}
		case code == "":
			e.Code, e.Detail = "unexpected_response", `HTTP 200 without Slack's "ok" or an error code`
		default:
			e.Code, e.Detail = "unexpected_response", fmt.Sprintf(`HTTP 200 whose "error" (%d bytes) is not a Slack error code`, len(code))
		}
	case ctx.Err() != nil:
		e.Code, e.Detail = "timeout", "notify's timeout passed"
	default:
		// A transport failure: httpx's error says how many attempts it made.
		e.Code, e.Detail = "unreachable", err.Error()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			e.Code = "timeout"
		}
	}
	return e
}

// defaultAttempts is how many times httpx sends a call at most by default
// (1 + its 3 retries); retries changes it.
const defaultAttempts = 4

// retriedCode reports whether slackRetry retries code for method.
func retriedCode(method, code string) bool {
	switch code {
	case "service_unavailable", "request_timeout", "ratelimited", "rate_limited":
		return true
	case "internal_error", "fatal_error":
		return repeatable[method]
	}
	return false
}

// finalDetail says why a retried failure is final: the retries ran out, or
// the next wait would have passed notify's timeout.
func finalDetail(ctx context.Context, what string, attempts int) string {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < 4*time.Second {
		return fmt.Sprintf("%s, and too little of notify's timeout was left for another attempt", what)
	}
	return fmt.Sprintf("%s on each of %d attempts", what, attempts)
}

// rateLimitDetail says what happened to a final 429: the waits Slack asked
// for (each at most httpx.MaxRetryAfter) did not end it. A wait that would
// have passed notify's timeout is a *httpx.WaitError instead (waitDetail).
func rateLimitDetail(attempts int) string {
	return fmt.Sprintf("rate limited on each of %d attempts, waiting as Slack asked (at most %s) between them", attempts, httpx.MaxRetryAfter)
}

// waitCode is the code of a Retry-After that was not waited for.
func waitCode(we *httpx.WaitError) string {
	if we.Status == http.StatusTooManyRequests {
		return "rate_limited"
	}
	return "http_" + strconv.Itoa(we.Status)
}

// waitDetail says why a Retry-After was not waited for: it would have
// ended past notify's timeout.
func waitDetail(we *httpx.WaitError) string {
	return fmt.Sprintf("Slack asked to wait %s before another attempt, which would pass notify's timeout (%s left): not retried",
		httpx.WaitText(we.Asked), httpx.Round(we.Left))
}

// webAPI is the part of Slack's Web API notify uses, over slack-go. Its
// HTTP goes through httpx (timeouts, retries, Retry-After, redaction); slack-go's
// own retries stay off, so httpx is the one retry layer.
type webAPI struct {
	c        *slack.Client
	tokenEnv string
	attempts int              // how many times httpx sends a call at most
	now      func() time.Time // the run's clock, for how far back a post is looked for
	red      *httpx.Redactor

	unfurlLinks, unfurlMedia bool // new messages' unfurl_links and unfurl_media

	// debug, when set, receives each message as sent and Slack's answer
	// (a redacting writer).
	debug io.Writer

	mu  sync.Mutex
	ids map[string]string // channel IDs by name, as conversations.list gave them
}

func newWebAPI(token, apiURL string, hc *httpx.Client, tokenEnv string, now func() time.Time) *webAPI {
	return &webAPI{c: slack.New(token, slack.OptionHTTPClient(hc.StandardClient()), slack.OptionAPIURL(apiURL)), tokenEnv: tokenEnv,
		attempts: defaultAttempts, now: now, red: hc.Redactor(), unfurlMedia: true, ids: map[string]string{}}
}

func (w *webAPI) classify(ctx context.Context, method, channel string, err error) error {
	// slack-go's http.Client names the URL as net/http does, with a user
	// name or query values showing.
	err = classify(ctx, method, channel, w.tokenEnv, w.attempts, w.red.Error(err))
	if w.debug != nil {
		if err != nil {
			fmt.Fprintf(w.debug, "pmguard notify: debug: Slack answered %s: %v\n", method, err)
		} else {
			fmt.Fprintf(w.debug, "pmguard notify: debug: Slack answered %s: ok\n", method)
		}
	}
	return err
}

// show prints a message as it is about to be sent, with debug.
func (w *webAPI) show(method, channel, threadTS string, m Message) {
	if w.debug == nil {
		return
	}
	b, _ := json.MarshalIndent(m, "", "  ")
	where := channel
	if threadTS != "" {
		where += " (thread " + threadTS + ")"
	}
	fmt.Fprintf(w.debug, "pmguard notify: debug: %s to %s:\n%s\n", method, where, b)
}

// newMsgOptions are m as slack-go options for a new message (posted or
// scheduled), with its unfurl settings; chat.update takes none.
func (w *webAPI) newMsgOptions(m Message) ([]slack.MsgOption, error) {
	opts, err := msgOptions(m)
	if err != nil {
		return nil, err
	}
	if w.unfurlLinks {
		opts = append(opts, slack.MsgOptionEnableLinkUnfurl())
	} else {
		opts = append(opts, slack.MsgOptionDisableLinkUnfurl())
	}
	if !w.unfurlMedia {
		// Slack unfurls media unless told not to.
		opts = append(opts, slack.MsgOptionDisableMediaUnfurl())
	}
	return opts, nil
}

// rawBlock sends a block exactly as built (or as the custom template had it).
type rawBlock map[string]any

func (b rawBlock) BlockType() slack.MessageBlockType {
	t, _ := b["type"].(string)
	return slack.MessageBlockType(t)
}
func (b rawBlock) ID() string                   { id, _ := b["block_id"].(string); return id }
func (b rawBlock) MarshalJSON() ([]byte, error) { return json.Marshal(map[string]any(b)) }

// msgOptions are m as slack-go options; new messages add their unfurl
// settings (newMsgOptions).
func msgOptions(m Message) ([]slack.MsgOption, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if len(m.Blocks) > 0 {
		bs := make([]slack.Block, len(m.Blocks))
		for i, b := range m.Blocks {
			bs[i] = rawBlock(b)
		}
		opts = append(opts, slack.MsgOptionBlocks(bs...))
	}
	if len(m.Attachments) > 0 {
		raw, _ := json.Marshal(m.Attachments)
		var atts []slack.Attachment
		if err := json.Unmarshal(raw, &atts); err != nil {
			return nil, fmt.Errorf("attachments: %v", err)
		}
		opts = append(opts, slack.MsgOptionAttachments(atts...))
	}
	return opts, nil
}

// post sends m to channel (in thread threadTS when set, with metadata meta
// when not nil) and returns the channel's ID and the message's ts. A post
// is not repeatable: after an answer that may come after Slack posted it
// (a 5xx, a timeout, a lost connection), httpx sends it again only when the
// message, found by the post id its metadata carries, is not in the
// channel (or thread) yet.
func (w *webAPI) post(ctx context.Context, channel, threadTS string, m Message, meta *slack.SlackMetadata) (string, string, error) {
	opts, err := w.newMsgOptions(m)
	if err != nil {
		return "", "", err
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	postID := newPostID()
	opts = append(opts, slack.MsgOptionMetadata(withPostID(meta, postID)))
	since := w.now().Add(-postWindow)
	var found threadRef
	ctx = httpx.RecheckBeforeRetry(ctx, func(ctx context.Context) (bool, error) {
		ref, ok, err := w.findPosted(ctx, channel, threadTS, postID, since)
		found = ref
		return ok, err
	})
	w.show("chat.postMessage", channel, threadTS, m)
	id, ts, err := w.c.PostMessageContext(ctx, channel, opts...)
	if errors.As(err, new(*httpx.AlreadyDone)) && found.TS != "" {
		return found.ChannelID, found.TS, nil
	}
	if err == nil && ts == "" {
		// slack-go takes a 200 without "ok" for success; a message without a
		// ts was not posted (a proxy's page, another service).
		return "", "", &SlackError{Method: "chat.postMessage", Channel: channel, Code: "unexpected_response", Detail: "field ts missing", TokenEnv: w.tokenEnv}
	}
	return id, ts, w.classify(ctx, "chat.postMessage", channel, err)
}

// postWindow is how far back before a post the channel's messages are read
// to find it: Slack's clock and the job's may differ.
const postWindow = 10 * time.Minute

// noticeType marks a message pmguard posted that starts no thread; its
// payload is the post id alone.
const noticeType = "pmguard_notice"

// newPostID is an id for one message, whatever the attempts to post it.
func newPostID() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// withPostID is meta (or a pmguard_notice when nil) with the post id added.
func withPostID(meta *slack.SlackMetadata, id string) slack.SlackMetadata {
	if meta == nil {
		return slack.SlackMetadata{EventType: noticeType, EventPayload: map[string]any{"post_id": id}}
	}
	p := maps.Clone(meta.EventPayload)
	p["post_id"] = id
	return slack.SlackMetadata{EventType: meta.EventType, EventPayload: p}
}

// findPosted finds the message whose metadata carries post id postID in
// channel, among the top-level messages since since, or in thread threadTS
// (bounded reads, as findMarked's).
func (w *webAPI) findPosted(ctx context.Context, channel, threadTS, postID string, since time.Time) (threadRef, bool, error) {
	id, err := w.channelID(ctx, channel)
	if err != nil || id == "" {
		return threadRef{}, false, err
	}
	ours := func(msgs []slack.Message) (threadRef, bool) {
		for _, m := range msgs {
			if p, _ := m.Metadata.EventPayload["post_id"].(string); p == postID {
				return threadRef{ChannelID: id, TS: m.Timestamp}, true
			}
		}
		return threadRef{}, false
	}
	oldest := strconv.FormatInt(since.Unix(), 10)
	if threadTS != "" {
		params := &slack.GetConversationRepliesParameters{ChannelID: id, Timestamp: threadTS, Limit: 200, Oldest: oldest, IncludeAllMetadata: true}
		for page := 0; page < maxThreadPages; page++ {
			msgs, more, next, err := w.c.GetConversationRepliesContext(ctx, params)
			if err != nil {
				return threadRef{}, false, w.classify(ctx, "conversations.replies", channel, err)
			}
			if ref, ok := ours(msgs); ok {
				return ref, true, nil
			}
			if !more || next == "" || next == params.Cursor {
				break
			}
			params.Cursor = next
		}
		return threadRef{}, false, nil
	}
	return w.findInHistory(ctx, channel, id, since, ours)
}

func (w *webAPI) update(ctx context.Context, channelID, ts string, m Message) error {
	opts, err := msgOptions(m)
	if err != nil {
		return err
	}
	w.show("chat.update", channelID, ts, m)
	_, _, _, err = w.c.UpdateMessageContext(ctx, channelID, ts, opts...)
	return w.classify(ctx, "chat.update", channelID, err)
}

// schedule schedules m in channel at at. Like a post it is not repeatable:
// after an answer that may come after Slack scheduled it, httpx sends it
// again only when no message is scheduled in channel at that time with its
// text.
func (w *webAPI) schedule(ctx context.Context, channel, threadTS string, at time.Time, m Message) (string, error) {
	opts, err := w.newMsgOptions(m)
	if err != nil {
		return "", err
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var found string
	ctx = httpx.RecheckBeforeRetry(ctx, func(ctx context.Context) (bool, error) {
		id, err := w.findScheduled(ctx, channel, func(s slack.ScheduledMessage) bool { return int64(s.PostAt) == at.Unix() && s.Text == m.Text })
		found = id
		return id != "", err
	})
	w.show("chat.scheduleMessage", channel, threadTS, m)
	_, id, err := w.c.ScheduleMessageContext(ctx, channel, strconv.FormatInt(at.Unix(), 10), opts...)
	if errors.As(err, new(*httpx.AlreadyDone)) && found != "" {
		return found, nil
	}
	return id, w.classify(ctx, "chat.scheduleMessage", channel, err)
}

// maxScheduledPages bounds the walk through a channel's scheduled messages.
const maxScheduledPages = 20

// findScheduled returns the id of a message scheduled in channel (an ID;
// a name lists the workspace's) that match accepts, or "".
func (w *webAPI) findScheduled(ctx context.Context, channel string, match func(slack.ScheduledMessage) bool) (string, error) {
	params := &slack.GetScheduledMessagesParameters{Limit: 100}
	if isChannelID(channel) {
		params.Channel = channel
	}
	for page := 0; page < maxScheduledPages; page++ {
		msgs, next, err := w.c.GetScheduledMessagesContext(ctx, params)
		if err != nil {
			return "", w.classify(ctx, "chat.scheduledMessages.list", channel, err)
		}
		for _, m := range msgs {
			if match(m) && (params.Channel != "" || !isChannelID(channel) || m.Channel == channel) {
				return m.ID, nil
			}
		}
		if next == "" {
			return "", nil
		}
		params.Cursor = next
	}
	return "", nil
}

// isChannelID says whether c is a conversation ID rather than a name.
func isChannelID(c string) bool {
	return len(c) > 8 && strings.ToUpper(c) == c && strings.ContainsAny(c[:1], "CGD")
}

// createChannel creates channel name. Like a post it is not repeatable:
// after an answer that may come after Slack created it, httpx sends it
// again only when no channel of that name was created since shortly before.
func (w *webAPI) createChannel(ctx context.Context, name string) (string, error) {
	since := w.now().Add(-postWindow).Unix()
	var found string
	ctx = httpx.RecheckBeforeRetry(ctx, func(ctx context.Context) (bool, error) {
		c, err := w.findChannel(ctx, name, func(c slack.Channel) bool { return c.Name == name && int64(c.Created) >= since })
		if c != nil {
			found = c.ID
		}
		return c != nil, err
	})
	ch, err := w.c.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: name})
	if errors.As(err, new(*httpx.AlreadyDone)) && found != "" {
		return found, nil
	}
	if err != nil {
		return "", w.classify(ctx, "conversations.create", name, err)
	}
	return ch.ID, nil
}

func (w *webAPI) setTopic(ctx context.Context, channelID, topic string) error {
	_, err := w.c.SetTopicOfConversationContext(ctx, channelID, topic)
	return w.classify(ctx, "conversations.setTopic", channelID, err)
}

func (w *webAPI) invite(ctx context.Context, channelID string, users []string) error {
	_, err := w.c.InviteUsersToConversationContext(ctx, channelID, users...)
	return w.classify(ctx, "conversations.invite", channelID, err)
}

func (w *webAPI) lookupEmail(ctx context.Context, email string) (string, error) {
	u, err := w.c.GetUserByEmailContext(ctx, email)
	if err != nil {
		return "", w.classify(ctx, "users.lookupByEmail", "", err)
	}
	return u.ID, nil
}
