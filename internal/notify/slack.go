package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

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
		return "Slack kept rate-limiting within notify's timeout; raise timeout or send fewer notices"
	case "invalid_blocks", "invalid_blocks_format", "msg_too_long", "no_text", "invalid_payload", "invalid_attachments":
		return "Slack refused the message's content: check the custom template in Slack's Block Kit Builder"
	case "no_service", "invalid_token", "no_team", "action_prohibited":
		return "the incoming webhook URL is revoked or wrong: create a new one and store it in the webhook env var"
	case "unreachable", "timeout":
		return "Slack could not be reached; the notice is lost but the deploy guard is not affected"
	}
	if strings.HasPrefix(e.Code, "http_") {
		return "Slack answered with a server error; it is usually brief"
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
	}
	return "(see the method's documentation)"
}

func channelLabel(c string) string {
	if c == "" || strings.HasPrefix(c, "C") && strings.ToUpper(c) == c || strings.HasPrefix(c, "G") && strings.ToUpper(c) == c {
		return c
	}
	return "#" + c
}

// retrier runs Slack calls with bounded retries inside one time budget.
// Slack's 429 carries Retry-After and its limits are per method and channel
// (chat.postMessage: about one message per second per channel), so a wait
// blocks only later calls to that same channel.
type retrier struct {
	now      func() time.Time
	sleep    func(context.Context, time.Duration) error
	deadline time.Time // of the budget, on the now clock
	retries  int
	log      func(string)
	tokenEnv string

	mu      sync.Mutex
	blocked map[string]time.Time
}

func newRetrier(now func() time.Time, sleep func(context.Context, time.Duration) error, budget time.Duration, retries int, tokenEnv string, log func(string)) *retrier {
	return &retrier{now: now, sleep: sleep, deadline: now().Add(budget), retries: retries, tokenEnv: tokenEnv, log: log, blocked: map[string]time.Time{}}
}

// errRetry is what a call returns to be retried, with the wait Slack asked for.
type retryable struct {
	code string
	wait time.Duration // 0: backoff
	err  error
}

func (r *retryable) Error() string { return r.code }

// do runs call until it succeeds, fails for good, or the retries or the
// budget run out. key groups calls that share a rate limit (the channel).
func (r *retrier) do(ctx context.Context, method, key, channel string, call func(context.Context) error) error {
	var last *retryable
	for attempt := 0; attempt <= r.retries; attempt++ {
		if err := r.waitTurn(ctx, key); err != nil {
			return r.giveUp(method, channel, last, err)
		}
		err := call(ctx)
		if err == nil {
			return nil
		}
		var re *retryable
		if !errors.As(err, &re) {
			return err
		}
		last = re
		if attempt == r.retries {
			break
		}
		wait := re.wait
		if wait <= 0 {
			wait = time.Duration(1<<attempt) * time.Second // 1 s, 2 s, 4 s
		}
		if re.code == "rate_limited" {
			r.block(key, wait)
			r.log(fmt.Sprintf("Slack rate limit on %s: waiting %s as Slack asked (retry %d of %d)", method, wait, attempt+1, r.retries))
		} else {
			if err := r.pause(ctx, wait); err != nil {
				return r.giveUp(method, channel, last, err)
			}
			r.log(fmt.Sprintf("Slack %s: %s, retry %d of %d", method, re.code, attempt+1, r.retries))
		}
	}
	return r.giveUp(method, channel, last, fmt.Errorf("%d attempt(s)", r.retries+1))
}

func (r *retrier) giveUp(method, channel string, last *retryable, why error) error {
	code := "timeout"
	if last != nil {
		code = last.code
	}
	return &SlackError{Method: method, Channel: channel, Code: code, Detail: "gave up after " + why.Error(), TokenEnv: r.tokenEnv}
}

func (r *retrier) block(key string, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	until := r.now().Add(d)
	if until.After(r.blocked[key]) {
		r.blocked[key] = until
	}
}

// waitTurn waits until key's rate limit is over, unless that is past the budget.
func (r *retrier) waitTurn(ctx context.Context, key string) error {
	r.mu.Lock()
	until := r.blocked[key]
	r.mu.Unlock()
	if d := until.Sub(r.now()); d > 0 {
		return r.pause(ctx, d)
	}
	return nil
}

// pause sleeps d, or refuses at once when d would end past the budget: a
// notice must never hold up the deploy guard or a rollback.
func (r *retrier) pause(ctx context.Context, d time.Duration) error {
	if left := r.deadline.Sub(r.now()); d > left {
		return fmt.Errorf("a wait of %s would pass notify's timeout (%s left)", d.Round(time.Millisecond), left.Round(time.Millisecond))
	}
	return r.sleep(ctx, d)
}

// classify turns what slack-go returned into a final *SlackError, a
// *retryable, or nil.
func (r *retrier) classify(method, channel string, err error) error {
	if err == nil {
		return nil
	}
	var rl *slack.RateLimitedError
	var sc slack.StatusCodeError
	var se slack.SlackErrorResponse
	switch {
	case errors.As(err, &rl):
		return &retryable{code: "rate_limited", wait: rl.RetryAfter, err: err}
	case errors.As(err, &sc):
		if sc.Code == http.StatusTooManyRequests {
			return &retryable{code: "rate_limited", wait: time.Second, err: err}
		}
		if sc.Code >= 500 {
			return &retryable{code: "http_" + strconv.Itoa(sc.Code), err: err}
		}
		return &SlackError{Method: method, Channel: channel, Code: "http_" + strconv.Itoa(sc.Code), TokenEnv: r.tokenEnv}
	case errors.As(err, &se):
		switch se.Err {
		case "ratelimited", "rate_limited":
			return &retryable{code: "rate_limited", wait: time.Second, err: err}
		case "internal_error", "fatal_error", "request_timeout", "service_unavailable":
			return &retryable{code: se.Err, err: err}
		}
		return &SlackError{Method: method, Channel: channel, Code: se.Err, Needed: se.Needed, TokenEnv: r.tokenEnv}
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return &SlackError{Method: method, Channel: channel, Code: "timeout", Detail: "notify's timeout passed", TokenEnv: r.tokenEnv}
	}
	// A transport failure (refused, reset, per-attempt timeout, a body that
	// is not Slack's JSON): worth another try within the budget.
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return &retryable{code: "timeout", err: err}
	}
	return &retryable{code: "unreachable", err: err}
}

// webAPI is the part of Slack's Web API notify uses, over slack-go.
type webAPI struct {
	c *slack.Client
	r *retrier
}

// newWebAPI builds the client. HTTP goes through httpx (timeouts, User-Agent,
// redaction) with its retries off: slack-go's own retries stay off too, so
// the retrier above is the one retry layer and its budget is honest.
func newWebAPI(token, apiURL string, hc *httpx.Client, r *retrier) *webAPI {
	return &webAPI{c: slack.New(token, slack.OptionHTTPClient(hc), slack.OptionAPIURL(apiURL)), r: r}
}

// rawBlock sends a block exactly as built (or as the custom template had it).
type rawBlock map[string]any

func (b rawBlock) BlockType() slack.MessageBlockType {
	t, _ := b["type"].(string)
	return slack.MessageBlockType(t)
}
func (b rawBlock) ID() string                   { id, _ := b["block_id"].(string); return id }
func (b rawBlock) MarshalJSON() ([]byte, error) { return json.Marshal(map[string]any(b)) }

// msgOptions are m as slack-go options. New messages do not unfurl links
// (a job link's preview would bury the notice); chat.update takes no unfurl
// parameter, so updates leave it out.
func msgOptions(m Message, newMessage bool) ([]slack.MsgOption, error) {
	opts := []slack.MsgOption{slack.MsgOptionText(m.Text, false)}
	if newMessage {
		opts = append(opts, slack.MsgOptionDisableLinkUnfurl())
	}
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

// post sends m to channel (in thread threadTS when set) and returns the
// channel's ID and the message's ts.
func (w *webAPI) post(ctx context.Context, channel, threadTS string, m Message) (string, string, error) {
	opts, err := msgOptions(m, true)
	if err != nil {
		return "", "", err
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var id, ts string
	err = w.r.do(ctx, "chat.postMessage", channel, channel, func(ctx context.Context) error {
		var e error
		id, ts, e = w.c.PostMessageContext(ctx, channel, opts...)
		return w.r.classify("chat.postMessage", channel, e)
	})
	return id, ts, err
}

func (w *webAPI) update(ctx context.Context, channelID, ts string, m Message) error {
	opts, err := msgOptions(m, false)
	if err != nil {
		return err
	}
	return w.r.do(ctx, "chat.update", channelID, channelID, func(ctx context.Context) error {
		_, _, _, e := w.c.UpdateMessageContext(ctx, channelID, ts, opts...)
		return w.r.classify("chat.update", channelID, e)
	})
}

func (w *webAPI) schedule(ctx context.Context, channel, threadTS string, at time.Time, m Message) (string, error) {
	opts, err := msgOptions(m, true)
	if err != nil {
		return "", err
	}
	if threadTS != "" {
		opts = append(opts, slack.MsgOptionTS(threadTS))
	}
	var id string
	err = w.r.do(ctx, "chat.scheduleMessage", channel, channel, func(ctx context.Context) error {
		var e error
		_, id, e = w.c.ScheduleMessageContext(ctx, channel, strconv.FormatInt(at.Unix(), 10), opts...)
		return w.r.classify("chat.scheduleMessage", channel, e)
	})
	return id, err
}

func (w *webAPI) createChannel(ctx context.Context, name string) (string, error) {
	var id string
	err := w.r.do(ctx, "conversations.create", "conversations.create", name, func(ctx context.Context) error {
		ch, e := w.c.CreateConversationContext(ctx, slack.CreateConversationParams{ChannelName: name})
		if e == nil {
			id = ch.ID
		}
		return w.r.classify("conversations.create", name, e)
	})
	return id, err
}

func (w *webAPI) setTopic(ctx context.Context, channelID, topic string) error {
	return w.r.do(ctx, "conversations.setTopic", channelID, channelID, func(ctx context.Context) error {
		_, e := w.c.SetTopicOfConversationContext(ctx, channelID, topic)
		return w.r.classify("conversations.setTopic", channelID, e)
	})
}

func (w *webAPI) invite(ctx context.Context, channelID string, users []string) error {
	return w.r.do(ctx, "conversations.invite", channelID, channelID, func(ctx context.Context) error {
		_, e := w.c.InviteUsersToConversationContext(ctx, channelID, users...)
		return w.r.classify("conversations.invite", channelID, e)
	})
}

func (w *webAPI) lookupEmail(ctx context.Context, email string) (string, error) {
	var id string
	err := w.r.do(ctx, "users.lookupByEmail", "users.lookupByEmail", "", func(ctx context.Context) error {
		u, e := w.c.GetUserByEmailContext(ctx, email)
		if e == nil {
			id = u.ID
		}
		return w.r.classify("users.lookupByEmail", "", e)
	})
	return id, err
}
