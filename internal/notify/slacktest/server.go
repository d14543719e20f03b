// Package slacktest is a stateful stand-in for Slack's Web API and incoming
// webhooks, on loopback, for tests and the demo. It checks the token, keeps
// channels, messages, threads and scheduled messages, answers with Slack's
// ts format ("1700000000.000100") and error bodies ({"ok":false,"error":...}),
// enforces Block Kit limits and channel-name rules, can be told to fail or
// rate-limit, and validates every request and response against Slack's
// OpenAPI spec (the subset beside this file), recording any violation.
package slacktest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Identities the stand-in answers with; they match the spec's ID patterns.
const (
	BotID  = "B0PMGUARD01"
	BotUID = "U0PMGUARD01"
	TeamID = "T0PMGUARD01"
)

// Message is a message as the stand-in keeps it.
type Message struct {
	Channel     string
	TS          string
	ThreadTS    string // set on replies
	Text        string
	Blocks      []map[string]any
	Attachments []map[string]any
	Edits       int // chat.update calls on it
	// User is who wrote a seeded message ("" for the app's own); Pinned and
	// Starred mark it as a key moment (pins.list, is_starred).
	User    string
	Pinned  bool
	Starred bool
	Webhook bool
	// Metadata is the message's metadata (event_type, event_payload), as
	// posted or last replaced by chat.update; nil when it has none.
	Metadata map[string]any
}

// Scheduled is a message waiting for its post_at.
type Scheduled struct {
	ID          string
	DateCreated int64
	Channel     string
	PostAt      int64
	ThreadTS    string
	Text        string
	Blocks      []map[string]any
}

// Channel is a conversation the stand-in knows.
type Channel struct {
	ID       string
	Name     string
	Member   bool // the app is in it
	Archived bool
	Private  bool
	Topic    string
	Members  []string
	Created  int64
}

// Fault makes the next Times calls to Method (or any method when "") fail.
type Fault struct {
	Method     string
	Times      int
	Code       string        // Slack error code for {"ok":false,"error":Code}
	Needed     string        // with missing_scope
	Status     int           // an HTTP status instead (500, 503, 429)
	RetryAfter int           // seconds, with Status 429
	Hang       bool          // hold the request until the client gives up
	Delay      time.Duration // answer normally after this long
	// After carries the call out first, then answers with Status (or
	// drops the connection with Drop) instead of Slack's answer: a
	// message posted whose answer never arrives.
	After bool
	Drop  bool // close the connection without an answer
}

// Request is a call the stand-in received (token removed).
type Request struct {
	Method      string
	ContentType string
	Params      url.Values
	Bearer      bool
}

// Server is the stand-in. Use New, then point slack-go at APIURL().
type Server struct {
	Token string
	// WebhookPath is the incoming webhook's path under URL.
	WebhookPath string
	// MaxScheduledPerWindow is how many messages one channel may have
	// scheduled within 5 minutes of each other before restricted_too_many.
	MaxScheduledPerWindow int
	// Now is the stand-in's clock (post_at checks, ts values).
	Now func() time.Time

	srv  *httptest.Server
	spec *Spec

	mu         sync.Mutex
	seq        int
	channels   map[string]*Channel // by ID
	messages   []*Message
	scheduled  []*Scheduled
	users      map[string]string // email -> user ID
	faults     []*Fault
	requests   []Request
	violations []string
	hang       chan struct{}
}

// New starts a stand-in with one channel the app is a member of, #general.
func New() (*Server, error) {
	spec, err := LoadSpec()
	if err != nil {
		return nil, err
	}
	s := &Server{
		Token:                 "xoxb-test-0000000000-secret",
		WebhookPath:           "/services/T0PMGUARD01/B0PMGUARD01/webhooksecret0123456789",
		MaxScheduledPerWindow: 30,
		Now:                   time.Now,
		spec:                  spec,
		channels:              map[string]*Channel{},
		users:                 map[string]string{},
		hang:                  make(chan struct{}),
	}
	s.AddChannel("general", true)
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	return s, nil
}

// Start starts a stand-in for a test: it is closed when the test ends, and
// every request it saw that broke Slack's spec fails the test.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		s.Close()
		for _, v := range s.Violations() {
			tb.Errorf("Slack spec violation: %s", v)
		}
	})
	return s
}

// Close stops the server and releases hanging requests.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.hang:
	default:
		close(s.hang)
	}
	s.mu.Unlock()
	s.srv.Close()
}

// APIURL is the Web API base for slack.OptionAPIURL and PMGUARD_SLACK_API_URL.
func (s *Server) APIURL() string { return s.srv.URL + "/api/" }

// WebhookURL is the incoming webhook's URL.
func (s *Server) WebhookURL() string { return s.srv.URL + s.WebhookPath }

// AddChannel adds a public channel and returns its ID.
func (s *Server) AddChannel(name string, member bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addChannelLocked(name, member).ID
}

func (s *Server) addChannelLocked(name string, member bool) *Channel {
	s.seq++
	c := &Channel{ID: fmt.Sprintf("C0%09d", s.seq), Name: name, Member: member, Created: s.Now().Unix()}
	s.channels[c.ID] = c
	return c
}

// Archive archives a channel.
func (s *Server) Archive(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.findLocked(name); c != nil {
		c.Archived = true
	}
}

// AddUser adds a workspace user and returns its ID.
func (s *Server) AddUser(email string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	id := fmt.Sprintf("U0%09d", s.seq)
	s.users[email] = id
	return id
}

// Inject queues a fault.
func (s *Server) Inject(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	s.faults = append(s.faults, &f)
}

// Channel returns a channel by name or ID.
func (s *Server) Channel(nameOrID string) (Channel, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.findLocked(nameOrID); c != nil {
		return *c, true
	}
	return Channel{}, false
}

// Messages returns the messages of a channel (name or ID), oldest first,
// replies included; "webhook" names the webhook's messages.
func (s *Server) Messages(channel string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := channel
	if c := s.findLocked(channel); c != nil {
		id = c.ID
	}
	var out []Message
	for _, m := range s.messages {
		if m.Channel == id {
			out = append(out, *m)
		}
	}
	return out
}

// AllMessages returns every message posted.
func (s *Server) AllMessages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return values(s.messages)
}

// Scheduled returns the scheduled messages.
func (s *Server) Scheduled() []Scheduled {
	s.mu.Lock()
	defer s.mu.Unlock()
	return values(s.scheduled)
}

// values copies what ps point to, so that callers hold no pointer into the
// server's state.
func values[T any](ps []*T) []T {
	out := make([]T, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}

// Requests returns the calls received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Calls counts the calls of one method.
func (s *Server) Calls(method string) int {
	n := 0
	for _, r := range s.Requests() {
		if r.Method == method {
			n++
		}
	}
	return n
}

// TakeViolations returns the violations so far and forgets them, for a test
// that sends a bad request on purpose.
func (s *Server) TakeViolations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.violations
	s.violations = nil
	return v
}

// Violations returns every request or response that did not match Slack's spec.
func (s *Server) Violations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.violations...)
}

func (s *Server) findLocked(nameOrID string) *Channel {
	nameOrID = strings.TrimPrefix(nameOrID, "#")
	if c, ok := s.channels[nameOrID]; ok {
		return c
	}
	for _, c := range s.channels {
		if c.Name == nameOrID {
			return c
		}
	}
	return nil
}

// nextTS is a Slack ts: the Unix second and a 6-digit sequence.
func (s *Server) nextTS() string {
	s.seq++
	return fmt.Sprintf("%d.%06d", s.Now().Unix(), s.seq%1000000)
}

type reply map[string]any

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == s.WebhookPath {
		s.serveWebhook(w, r)
		return
	}
	method, ok := strings.CutPrefix(r.URL.Path, "/api/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	params, ct, err := readParams(r)
	if err != nil {
		s.write(w, method, http.StatusOK, reply{"ok": false, "error": "invalid_form_data"})
		return
	}
	bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	hasBearer := r.Header.Get("Authorization") != ""
	token := params.Get("token")
	if hasBearer {
		token = bearer
	}
	params.Del("token")

	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: method, ContentType: ct, Params: params, Bearer: hasBearer})
	// The token is a parameter as far as the spec goes; it came in the body
	// or a header, so it is present either way when given.
	checked := url.Values{}
	for k, v := range params {
		checked[k] = v
	}
	for _, v := range s.spec.CheckRequest(method, ct, checked, token != "") {
		s.violations = append(s.violations, "request: "+v)
	}
	f := s.takeFaultLocked(method)
	s.mu.Unlock()

	if f != nil && f.After {
		s.mu.Lock()
		if token == s.Token {
			s.handleLocked(method, params)
		}
		s.mu.Unlock()
		f = &Fault{Status: f.Status, Drop: f.Drop}
	}
	if f != nil {
		switch {
		case f.Drop:
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			return
		case f.Hang:
			s.hold(r)
			return
		case f.Delay > 0:
			select {
			case <-r.Context().Done():
				return
			case <-time.After(f.Delay):
			}
		case f.Status == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			s.write(w, method, http.StatusTooManyRequests, reply{"ok": false, "error": "ratelimited"})
			return
		case f.Status != 0:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(f.Status)
			io.WriteString(w, "<html><body>Slack is having trouble</body></html>")
			return
		case f.Code != "":
			rep := reply{"ok": false, "error": f.Code}
			if f.Needed != "" {
				rep["needed"], rep["provided"] = f.Needed, "chat:write"
			}
			s.write(w, method, http.StatusOK, rep)
			return
		}
	}

	switch {
	case token == "":
		s.write(w, method, http.StatusOK, reply{"ok": false, "error": "not_authed"})
		return
	case token != s.Token:
		s.write(w, method, http.StatusOK, reply{"ok": false, "error": "invalid_auth"})
		return
	}

	s.mu.Lock()
	status, rep := s.handleLocked(method, params)
	s.mu.Unlock()
	s.write(w, method, status, rep)
}

// hold keeps a hung request open until its client gives up or the server
// closes.
func (s *Server) hold(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.hang:
	}
}

func (s *Server) takeFaultLocked(method string) *Fault {
	for i, f := range s.faults {
		if f.Method == "" || f.Method == method {
			f.Times--
			if f.Times <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
			return f
		}
	}
	return nil
}

// readParams reads form-encoded or JSON bodies and the query string.
func readParams(r *http.Request) (url.Values, string, error) {
	ct := r.Header.Get("Content-Type")
	out := url.Values{}
	for k, v := range r.URL.Query() {
		out[k] = v
	}
	if r.Method != http.MethodPost {
		return out, "", nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		return nil, ct, err
	}
	mt, _, _ := mime.ParseMediaType(ct)
	switch mt {
	case "application/json":
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			return nil, ct, err
		}
		for k, v := range m {
			switch t := v.(type) {
			case string:
				out.Set(k, t)
			default:
				b, _ := json.Marshal(t)
				out.Set(k, string(b))
			}
		}
	default:
		form, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, ct, err
		}
		for k, v := range form {
			out[k] = v
		}
	}
	return out, ct, nil
}

func (s *Server) write(w http.ResponseWriter, method string, status int, rep reply) {
	body, _ := json.Marshal(rep)
	if status == http.StatusOK {
		if v := s.spec.CheckResponse(method, body); len(v) > 0 {
			s.mu.Lock()
			for _, x := range v {
				s.violations = append(s.violations, "response: "+x)
			}
			s.mu.Unlock()
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(body)
}

func fail(code string) (int, reply) { return http.StatusOK, reply{"ok": false, "error": code} }

func (s *Server) handleLocked(method string, p url.Values) (int, reply) {
	switch method {
	case "auth.test":
		return http.StatusOK, reply{"ok": true, "url": "https://pmguard-test.slack.com/", "team": "pmguard", "user": "pmguard", "team_id": TeamID, "user_id": BotUID, "bot_id": BotID}
	case "chat.postMessage":
		return s.postLocked(p)
	case "chat.update":
		return s.updateLocked(p)
	case "chat.scheduleMessage":
		return s.scheduleLocked(p)
	case "chat.scheduledMessages.list":
		return s.listScheduledLocked(p)
	case "chat.getPermalink":
		c := s.findLocked(p.Get("channel"))
		if c == nil {
			return fail("channel_not_found")
		}
		return http.StatusOK, reply{"ok": true, "channel": c.ID, "permalink": "https://pmguard-test.slack.com/archives/" + c.ID + "/p" + strings.ReplaceAll(p.Get("message_ts"), ".", "")}
	case "conversations.create":
		return s.createLocked(p)
	case "conversations.replies":
		return s.repliesLocked(p)
	case "conversations.history":
		return s.historyLocked(p)
	case "conversations.list":
		return s.listLocked(p)
	case "pins.list":
		return s.pinsLocked(p)
	case "conversations.setTopic":
		c, code := s.memberChannelLocked(p.Get("channel"))
		if code != "" {
			return fail(code)
		}
		if len([]rune(p.Get("topic"))) > 250 {
			return fail("too_long")
		}
		c.Topic = p.Get("topic")
		return http.StatusOK, reply{"ok": true, "channel": s.conversation(c)}
	case "conversations.invite":
		c, code := s.memberChannelLocked(p.Get("channel"))
		if code != "" {
			return fail(code)
		}
		users := strings.Split(p.Get("users"), ",")
		added := 0
		for _, u := range users {
			if !s.knownUserLocked(u) {
				return fail("user_not_found")
			}
			if !contains(c.Members, u) {
				c.Members = append(c.Members, u)
				added++
			}
		}
		if added == 0 {
			return fail("already_in_channel")
		}
		return http.StatusOK, reply{"ok": true, "channel": s.conversation(c)}
	case "users.lookupByEmail":
		id, ok := s.users[p.Get("email")]
		if !ok {
			return fail("users_not_found")
		}
		return http.StatusOK, reply{"ok": true, "user": reply{
			"id": id, "name": strings.Split(p.Get("email"), "@")[0], "is_bot": false, "updated": 1700000000, "is_app_user": false,
			"profile": reply{"email": p.Get("email"), "real_name": "", "display_name": "", "avatar_hash": "", "real_name_normalized": "", "display_name_normalized": "", "status_text": "", "status_emoji": "", "title": "", "phone": "", "skype": "", "team": TeamID, "fields": []any{}},
		}}
	}
	return fail("unknown_method")
}

func (s *Server) knownUserLocked(id string) bool {
	for _, u := range s.users {
		if u == id {
			return true
		}
	}
	return false
}

// memberChannelLocked finds a channel the app can write to, or the error
// Slack would give.
func (s *Server) memberChannelLocked(nameOrID string) (*Channel, string) {
	c := s.findLocked(nameOrID)
	switch {
	case c == nil:
		return nil, "channel_not_found"
	case c.Archived:
		return nil, "is_archived"
	case !c.Member:
		return nil, "not_in_channel"
	}
	return c, ""
}

func (s *Server) conversation(c *Channel) reply {
	return reply{
		"id": c.ID, "name": c.Name, "name_normalized": c.Name, "created": c.Created, "creator": BotUID,
		"is_archived": c.Archived, "is_channel": true, "is_general": false, "is_mpim": false, "is_group": false,
		"is_org_shared": false, "is_im": false, "is_shared": false, "is_private": c.Private, "is_member": c.Member,
		"topic":   reply{"value": c.Topic, "creator": "", "last_set": 0},
		"purpose": reply{"value": "", "creator": "", "last_set": 0},
	}
}

// Slack's channel name rules: lowercase letters, digits, hyphens and
// underscores, at most 80 characters.
var channelName = regexp.MustCompile(`^[a-z0-9_-]+$`)

func (s *Server) createLocked(p url.Values) (int, reply) {
	name := p.Get("name")
	switch {
	case name == "":
		return fail("invalid_name_required")
	case len([]rune(name)) > 80:
		return fail("invalid_name_maxlength")
	case strings.Trim(name, "-_") == "":
		return fail("invalid_name_punctuation")
	case !channelName.MatchString(name):
		return fail("invalid_name_specials")
	case s.findLocked(name) != nil:
		return fail("name_taken")
	}
	c := s.addChannelLocked(name, true)
	c.Private = p.Get("is_private") == "true"
	c.Members = []string{BotUID}
	return http.StatusOK, reply{"ok": true, "channel": s.conversation(c)}
}

// maxMetadata bounds a message's metadata, as Slack does.
const maxMetadata = 8 << 10

// checkMetadata reads a message's metadata parameter: an object with a
// non-empty event_type and an event_payload object, or {} (none).
func checkMetadata(p url.Values) (map[string]any, string) {
	raw := p.Get("metadata")
	if raw == "" {
		return nil, ""
	}
	if len(raw) > maxMetadata {
		return nil, "metadata_too_large"
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, "invalid_metadata_format"
	}
	if len(m) == 0 {
		return nil, ""
	}
	typ, _ := m["event_type"].(string)
	payload, ok := m["event_payload"].(map[string]any)
	if typ == "" || !ok || len(m) != 2 {
		return nil, "invalid_metadata_schema"
	}
	return map[string]any{"event_type": typ, "event_payload": payload}, ""
}

// checkMessage enforces what Slack enforces on a message's content.
func checkMessage(p url.Values) ([]map[string]any, []map[string]any, string) {
	var blocks, atts []map[string]any
	if b := p.Get("blocks"); b != "" {
		if err := json.Unmarshal([]byte(b), &blocks); err != nil {
			return nil, nil, "invalid_blocks"
		}
		if code := checkBlocks(blocks); code != "" {
			return nil, nil, code
		}
	}
	if a := p.Get("attachments"); a != "" {
		if err := json.Unmarshal([]byte(a), &atts); err != nil {
			return nil, nil, "invalid_attachments"
		}
	}
	if strings.TrimSpace(p.Get("text")) == "" && len(blocks) == 0 && len(atts) == 0 {
		return nil, nil, "no_text"
	}
	if len([]rune(p.Get("text"))) > 40000 {
		return nil, nil, "msg_too_long"
	}
	return blocks, atts, ""
}

// checkBlocks applies Block Kit's limits: 50 blocks, header 150 characters,
// section text 3000, 10 fields of 2000, no empty text, button text 75.
func checkBlocks(blocks []map[string]any) string {
	if len(blocks) > 50 {
		return "invalid_blocks"
	}
	for _, b := range blocks {
		typ, _ := b["type"].(string)
		switch typ {
		case "header":
			if !textOK(b["text"], 150, true) {
				return "invalid_blocks"
			}
		case "section":
			_, hasText := b["text"]
			fields, _ := b["fields"].([]any)
			if !hasText && len(fields) == 0 {
				return "invalid_blocks"
			}
			if hasText && !textOK(b["text"], 3000, false) {
				return "invalid_blocks"
			}
			if len(fields) > 10 {
				return "invalid_blocks"
			}
			for _, f := range fields {
				if !textOK(f, 2000, false) {
					return "invalid_blocks"
				}
			}
		case "context":
			el, _ := b["elements"].([]any)
			if len(el) == 0 || len(el) > 10 {
				return "invalid_blocks"
			}
		case "actions":
			el, _ := b["elements"].([]any)
			if len(el) == 0 || len(el) > 25 {
				return "invalid_blocks"
			}
			for _, e := range el {
				em, _ := e.(map[string]any)
				if em["type"] == "button" && !textOK(em["text"], 75, true) {
					return "invalid_blocks"
				}
			}
		case "divider", "image", "rich_text", "input", "file", "video", "markdown":
		default: // no type, or one Block Kit does not have
			return "invalid_blocks"
		}
		if id, ok := b["block_id"].(string); ok && len([]rune(id)) > 255 {
			return "invalid_blocks"
		}
	}
	return ""
}

func textOK(v any, limit int, plainOnly bool) bool {
	t, ok := v.(map[string]any)
	if !ok {
		return false
	}
	s, _ := t["text"].(string)
	typ, _ := t["type"].(string)
	if typ != "plain_text" && (plainOnly || typ != "mrkdwn") {
		return false
	}
	return strings.TrimSpace(s) != "" && len([]rune(s)) <= limit
}

func (s *Server) postLocked(p url.Values) (int, reply) {
	c, code := s.memberChannelLocked(p.Get("channel"))
	if code != "" {
		return fail(code)
	}
	blocks, atts, code := checkMessage(p)
	if code != "" {
		return fail(code)
	}
	meta, code := checkMetadata(p)
	if code != "" {
		return fail(code)
	}
	m := &Message{Channel: c.ID, TS: s.nextTS(), ThreadTS: p.Get("thread_ts"), Text: p.Get("text"), Blocks: blocks, Attachments: atts, Metadata: meta}
	s.messages = append(s.messages, m)
	return http.StatusOK, reply{"ok": true, "channel": c.ID, "ts": m.TS, "message": s.messageReply(m)}
}

func (s *Server) messageReply(m *Message) reply {
	r := reply{"type": "message", "subtype": "bot_message", "text": m.Text, "ts": m.TS, "bot_id": BotID, "user": BotUID, "team": TeamID}
	if m.ThreadTS != "" {
		r["thread_ts"] = m.ThreadTS
	}
	if len(m.Blocks) > 0 {
		r["blocks"] = m.Blocks
	}
	return r
}

func (s *Server) updateLocked(p url.Values) (int, reply) {
	c, code := s.memberChannelLocked(p.Get("channel"))
	if code != "" {
		return fail(code)
	}
	var target *Message
	for _, m := range s.messages {
		if m.Channel == c.ID && m.TS == p.Get("ts") {
			target = m
		}
	}
	if target == nil {
		return fail("message_not_found")
	}
	blocks, atts, code := checkMessage(p)
	if code != "" {
		return fail(code)
	}
	if p.Has("metadata") {
		// Given, it replaces the message's metadata ({} removes it);
		// left out, the metadata stays.
		meta, code := checkMetadata(p)
		if code != "" {
			return fail(code)
		}
		target.Metadata = meta
	}
	target.Text, target.Blocks, target.Attachments = p.Get("text"), blocks, atts
	target.Edits++
	return http.StatusOK, reply{"ok": true, "channel": c.ID, "ts": target.TS, "text": target.Text, "message": reply{"text": target.Text}}
}

func (s *Server) scheduleLocked(p url.Values) (int, reply) {
	c, code := s.memberChannelLocked(p.Get("channel"))
	if code != "" {
		return fail(code)
	}
	postAt, err := strconv.ParseInt(p.Get("post_at"), 10, 64)
	if err != nil {
		return fail("invalid_time")
	}
	now := s.Now().Unix()
	switch {
	case postAt <= now:
		return fail("time_in_past")
	case postAt > now+120*24*3600:
		return fail("time_too_far")
	}
	near := 0
	for _, m := range s.scheduled {
		if m.Channel == c.ID && abs(m.PostAt-postAt) < 300 {
			near++
		}
	}
	if near >= s.MaxScheduledPerWindow {
		return fail("restricted_too_many")
	}
	blocks, _, code := checkMessage(p)
	if code != "" {
		return fail(code)
	}
	s.seq++
	m := &Scheduled{ID: fmt.Sprintf("Q0%09d", s.seq), DateCreated: now, Channel: c.ID, PostAt: postAt, ThreadTS: p.Get("thread_ts"), Text: p.Get("text"), Blocks: blocks}
	s.scheduled = append(s.scheduled, m)
	sort.SliceStable(s.scheduled, func(i, j int) bool { return s.scheduled[i].PostAt < s.scheduled[j].PostAt })
	return http.StatusOK, reply{"ok": true, "channel": c.ID, "post_at": postAt, "scheduled_message_id": m.ID,
		"message": reply{"type": "delayed_message", "text": m.Text, "bot_id": BotID, "user": BotUID, "team": TeamID}}
}

// listPage is how many scheduled messages one page of
// chat.scheduledMessages.list holds unless limit asks for fewer; small, so
// callers' pagination is exercised.
const listPage = 2

// listScheduledLocked is chat.scheduledMessages.list: the messages still
// waiting (post_at in the future), optionally of one channel and within
// oldest..latest, paged by an opaque cursor.
func (s *Server) listScheduledLocked(p url.Values) (int, reply) {
	var chID string
	if ch := p.Get("channel"); ch != "" {
		c := s.findLocked(ch)
		if c == nil || c.ID != ch {
			return fail("invalid_channel") // the method takes an ID only
		}
		chID = c.ID
	}
	oldest, _ := strconv.ParseInt(p.Get("oldest"), 10, 64)
	latest, _ := strconv.ParseInt(p.Get("latest"), 10, 64)
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > listPage {
		limit = listPage
	}
	now := s.Now().Unix()
	var all []*Scheduled
	for _, m := range s.scheduled {
		if m.PostAt <= now || chID != "" && m.Channel != chID || oldest > 0 && m.PostAt < oldest || latest > 0 && m.PostAt > latest {
			continue
		}
		all = append(all, m)
	}
	start := 0
	if c := p.Get("cursor"); c != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(c, "cur_"))
		if err != nil || !strings.HasPrefix(c, "cur_") || n < 0 || n > len(all) {
			return fail("invalid_cursor")
		}
		start = n
	}
	end := min(start+limit, len(all))
	items := []any{}
	for _, m := range all[start:end] {
		items = append(items, reply{"id": m.ID, "channel_id": m.Channel, "post_at": m.PostAt, "date_created": m.DateCreated, "text": m.Text})
	}
	next := ""
	if end < len(all) {
		next = fmt.Sprintf("cur_%d", end)
	}
	return http.StatusOK, reply{"ok": true, "scheduled_messages": items, "response_metadata": reply{"next_cursor": next}}
}

// serveWebhook is an incoming webhook: JSON in, "ok" or a plain-text code out.
func (s *Server) serveWebhook(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: "webhook", ContentType: r.Header.Get("Content-Type")})
	f := s.takeFaultLocked("webhook")
	s.mu.Unlock()
	answer := func(status int, body string) {
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
	if f != nil {
		switch {
		case f.Hang:
			s.hold(r)
			return
		case f.Status == http.StatusTooManyRequests:
			w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
			answer(http.StatusTooManyRequests, "rate_limited")
			return
		case f.Status != 0:
			answer(f.Status, f.Code)
			return
		}
	}
	var body struct {
		Text        string           `json:"text"`
		Blocks      []map[string]any `json:"blocks"`
		Attachments []map[string]any `json:"attachments"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4<<20)).Decode(&body); err != nil {
		answer(http.StatusBadRequest, "invalid_payload")
		return
	}
	if strings.TrimSpace(body.Text) == "" && len(body.Blocks) == 0 {
		answer(http.StatusBadRequest, "no_text")
		return
	}
	if checkBlocks(body.Blocks) != "" {
		answer(http.StatusBadRequest, "invalid_blocks")
		return
	}
	s.mu.Lock()
	s.messages = append(s.messages, &Message{Channel: "webhook", TS: s.nextTS(), Text: body.Text, Blocks: body.Blocks, Attachments: body.Attachments, Webhook: true})
	s.mu.Unlock()
	io.WriteString(w, "ok")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

// CheckBlocks applies the stand-in's Block Kit checks to a JSON array of
// blocks and returns the error Slack would give, or "".
func CheckBlocks(raw []byte) string {
	var blocks []map[string]any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return "invalid_blocks"
	}
	return checkBlocks(blocks)
}

// Seed adds a message written by someone else (User) to a channel, as the
// people in an incident thread write them; ThreadTS makes it a reply.
func (s *Server) Seed(m Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.findLocked(m.Channel); c != nil {
		m.Channel = c.ID
	}
	s.messages = append(s.messages, &m)
}

// SetMetadata gives the message ts of channel (a name or an ID) the
// metadata an app posted it with, as chat.postMessage's metadata would.
func (s *Server) SetMetadata(channel, ts string, md map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.findLocked(channel); c != nil {
		channel = c.ID
	}
	for _, m := range s.messages {
		if m.Channel == channel && m.TS == ts {
			m.Metadata = md
		}
	}
}

// threadLocked is a thread's parent and replies in ts order.
func (s *Server) threadLocked(channelID, ts string) []*Message {
	var out []*Message
	for _, m := range s.messages {
		if m.Channel == channelID && (m.TS == ts || m.ThreadTS == ts) {
			out = append(out, m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS < out[j].TS })
	return out
}

func (s *Server) seededReply(m *Message, parent bool) reply {
	if m.User == "" {
		r := s.messageReply(m)
		delete(r, "subtype")
		delete(r, "bot_id")
		if parent {
			r["thread_ts"], r["reply_count"], r["subscribed"] = m.TS, 0, false
		} else if m.ThreadTS != "" {
			r["parent_user_id"] = BotUID
		}
		return r
	}
	r := reply{"type": "message", "text": m.Text, "ts": m.TS, "user": m.User, "team": TeamID}
	if m.ThreadTS != "" {
		r["thread_ts"], r["parent_user_id"] = m.ThreadTS, BotUID
	}
	if m.Starred {
		r["is_starred"] = true
	}
	return r
}

// repliesLocked serves conversations.replies: the parent first, then the
// replies, limit at a time, with a next_cursor while more follow.
func (s *Server) repliesLocked(p url.Values) (int, reply) {
	c, code := s.memberChannelLocked(p.Get("channel"))
	if code != "" {
		return fail(code)
	}
	thread := s.threadLocked(c.ID, p.Get("ts"))
	if len(thread) == 0 {
		return fail("thread_not_found")
	}
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	start, _ := strconv.Atoi(strings.TrimPrefix(p.Get("cursor"), "bmV4dF90czox"))
	withMeta := p.Get("include_all_metadata") == "1" || p.Get("include_all_metadata") == "true"
	msgs := []any{}
	for i := start; i < len(thread) && i < start+limit; i++ {
		r := s.seededReply(thread[i], i == 0)
		if withMeta && thread[i].Metadata != nil {
			r["metadata"] = thread[i].Metadata
		}
		if i == 0 {
			r["thread_ts"] = thread[0].TS
			r["reply_count"], r["subscribed"] = len(thread)-1, false
		}
		msgs = append(msgs, r)
	}
	rep := reply{"ok": true, "messages": msgs, "has_more": start+limit < len(thread)}
	if start+limit < len(thread) {
		rep["response_metadata"] = reply{"next_cursor": "bmV4dF90czox" + strconv.Itoa(start+limit)}
	}
	return http.StatusOK, rep
}

// historyLocked serves conversations.history: a channel's top-level
// messages, newest first, between oldest and latest, a page of limit at a
// time, with their metadata when include_all_metadata asks for it.
func (s *Server) historyLocked(p url.Values) (int, reply) {
	c := s.findLocked(p.Get("channel"))
	switch {
	case c == nil || c.ID != p.Get("channel"):
		return fail("channel_not_found") // an ID, not a name
	case !c.Member:
		return fail("not_in_channel")
	}
	oldest, latest := tsValue(p.Get("oldest")), tsValue(p.Get("latest"))
	inclusive := p.Get("inclusive") == "1" || p.Get("inclusive") == "true"
	var top []*Message
	for _, m := range s.messages {
		if m.Channel != c.ID || m.ThreadTS != "" && m.ThreadTS != m.TS {
			continue
		}
		t := tsValue(m.TS)
		after := t > oldest || inclusive && t == oldest
		before := latest == 0 || t < latest || inclusive && t == latest
		if after && before {
			top = append(top, m)
		}
	}
	sort.SliceStable(top, func(i, j int) bool { return tsValue(top[i].TS) > tsValue(top[j].TS) })
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > 999 {
		limit = 100
	}
	start, _ := strconv.Atoi(strings.TrimPrefix(p.Get("cursor"), "bmV4dF90czox"))
	withMeta := p.Get("include_all_metadata") == "1" || p.Get("include_all_metadata") == "true"
	msgs := []any{}
	for i := start; i < len(top) && i < start+limit; i++ {
		r := s.messageReply(top[i])
		if top[i].User != "" {
			r = s.seededReply(top[i], false)
		}
		if withMeta && top[i].Metadata != nil {
			r["metadata"] = top[i].Metadata
		}
		msgs = append(msgs, r)
	}
	more := start+limit < len(top)
	rep := reply{"ok": true, "messages": msgs, "has_more": more, "pin_count": 0, "channel_actions_ts": nil, "channel_actions_count": 0}
	if more {
		rep["response_metadata"] = reply{"next_cursor": "bmV4dF90czox" + strconv.Itoa(start+limit)}
	}
	return http.StatusOK, rep
}

// tsValue orders Slack ts values ("1700000000.000100"); 0 for none.
func tsValue(ts string) float64 {
	f, _ := strconv.ParseFloat(ts, 64)
	return f
}

// listPageMax is the most channels one page of conversations.list holds.
const listPageMax = 1000

// listLocked serves conversations.list: the workspace's channels of the
// types asked for, in creation order, a page of limit at a time.
func (s *Server) listLocked(p url.Values) (int, reply) {
	types := p.Get("types")
	if types == "" {
		types = "public_channel"
	}
	want := map[string]bool{}
	for _, t := range strings.Split(types, ",") {
		want[strings.TrimSpace(t)] = true
	}
	var all []*Channel
	for _, c := range s.channels {
		kind := "public_channel"
		if c.Private {
			kind = "private_channel"
		}
		if want[kind] && !(c.Archived && (p.Get("exclude_archived") == "true" || p.Get("exclude_archived") == "1")) {
			all = append(all, c)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].ID < all[j].ID })
	limit, _ := strconv.Atoi(p.Get("limit"))
	if limit <= 0 || limit > listPageMax {
		limit = 100
	}
	start, _ := strconv.Atoi(strings.TrimPrefix(p.Get("cursor"), "dGVhbTpD"))
	chans := []any{}
	for i := start; i < len(all) && i < start+limit; i++ {
		chans = append(chans, s.conversation(all[i]))
	}
	next := ""
	if start+limit < len(all) {
		next = "dGVhbTpD" + strconv.Itoa(start+limit)
	}
	return http.StatusOK, reply{"ok": true, "channels": chans, "response_metadata": reply{"next_cursor": next}}
}

// pinsLocked serves pins.list: the channel's pinned messages.
func (s *Server) pinsLocked(p url.Values) (int, reply) {
	c, code := s.memberChannelLocked(p.Get("channel"))
	if code != "" {
		return fail(code)
	}
	items := []any{}
	for _, m := range s.messages {
		if m.Channel == c.ID && m.Pinned {
			msg := reply{"type": "message", "text": m.Text, "ts": m.TS, "user": m.User, "pinned_to": []string{c.ID}}
			if m.User == "" {
				msg["user"] = BotUID
			}
			items = append(items, reply{"type": "message", "channel": c.ID, "created": 1700000000, "created_by": "U0PINNER01", "message": msg})
		}
	}
	return http.StatusOK, reply{"ok": true, "items": items}
}
