// Package notify posts pmguard's Slack incident notices: built-in Block Kit
// templates filled from the CircleCI job and the event log's figures, custom
// templates, one thread per incident (later notices reply to the first and
// update its status line), an optional incident channel and a post-mortem
// reminder. A Slack failure never fails the deploy guard: it is a warning
// and a notify_failed event unless fail_on_error is set.
//
// The notify verb is New and Run; other verbs post through a Poster.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/verb"
)

// Options are one notice's inputs and dependencies, built by New (the
// notify verb) or by a Poster (another verb's notice).
type Options struct {
	Settings Settings
	// Subject returns the commit's subject line ("" when unknown).
	Subject func(ctx context.Context, sha string) string

	d    *verb.Deps
	set  *config.Set // names settings in errors; nil for settings built in Go
	p    *plan
	log  *events.Log // where notified and notify_failed go
	http *httpx.Client
	out  io.Writer
	errw io.Writer
	// events are what the notice's figures and thread are read from.
	events func() []events.Event
}

// New parses and checks the notify verb's settings. Every error is bad
// input, found before any call to Slack.
func New(ctx context.Context, d *verb.Deps, args []string) (*Options, error) {
	o := &Options{d: d, Subject: GitSubject(".")}
	set, err := d.Load(ctx, "notify", args, &o.Settings)
	if err != nil {
		return nil, err
	}
	o.set = set
	if err := o.withLog(); err != nil {
		return nil, err
	}
	return o, nil
}

// withLog builds the verb from its settings: checked, with the event log of
// events_file to read figures and threads from and to write to.
func (o *Options) withLog() error {
	if err := o.build(); err != nil {
		return err
	}
	var err error
	o.log, err = o.d.Events(o.Settings.EventsFile)
	o.events = o.readLog
	return err
}

// build checks the settings and builds the Slack client. The client's
// retries, backoff and Retry-After waits are httpx's; none outlasts the
// run's timeout, which Run sets on the context.
func (o *Options) build() error {
	if o.Subject == nil {
		o.Subject = func(context.Context, string) string { return "" }
	}
	o.out = &redactWriter{w: o.d.Stdout, r: o.d.Redactor}
	o.errw = &redactWriter{w: o.d.Stderr, r: o.d.Redactor}
	p, err := o.resolve()
	if err != nil {
		return err
	}
	o.p = p
	retries := p.retries
	if retries == 0 {
		retries = -1 // httpx's 0 is its default
	}
	o.http = o.d.HTTP(httpx.Options{
		Timeout: min(10*time.Second, p.timeout), Retries: retries, WaitMin: p.retryDelay, WaitMax: 4 * p.retryDelay,
		CheckRetry: slackRetry, Log: func(s string) { fmt.Fprintln(o.out, "pmguard notify: "+s) },
	})
	return nil
}

// run is the state of one notice.
type run struct {
	o      *Options
	p      *plan
	out    io.Writer
	errw   io.Writer
	key    string // incident key: the pipeline id
	name   string // built-in template, "" for custom
	status string // pass, fail or "" (unknown)
	facts  *Facts
	evs    []events.Event
	api    *webAPI
	mu     sync.Mutex
	errs   []error
	noted  map[string]bool
}

// note prints a line once, however many times the message is rendered.
func (r *run) note(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.noted[s] {
		return
	}
	if r.noted == nil {
		r.noted = map[string]bool{}
	}
	r.noted[s] = true
	fmt.Fprintln(r.out, "pmguard notify: "+s)
}

// Run sends the notice: through the Web API, an incoming webhook, or, with
// neither credential, as a preview on stdout. A Slack failure is a warning
// unless fail_on_error is set.
func Run(ctx context.Context, o *Options) error {
	r, err := o.start(ctx)
	if err != nil || r == nil {
		return err
	}
	if o.p.mode == "preview" {
		m, _ := r.message(r.facts)
		fmt.Fprintf(r.out, "pmguard notify: no Slack token in $%s and no webhook URL in $%s: showing the message instead of sending it\n\n", o.p.tokenEnv, o.p.webhookEnv)
		Preview(r.out, m)
		return nil
	}
	// The whole run, retries and rate-limit waits included, fits in timeout.
	ctx, cancel := context.WithTimeout(ctx, o.p.timeout)
	defer cancel()
	if o.p.mode == "webhook" {
		r.sendWebhook(ctx)
	} else {
		r.api = newWebAPI(o.p.token, o.p.apiURL, o.http, o.p.tokenEnv, o.d.Now)
		r.api.attempts = o.p.retries + 1
		r.api.unfurlLinks, r.api.unfurlMedia = o.p.unfurlLinks, o.p.unfurlMedia
		if o.p.debug {
			r.api.debug = r.out
		}
		r.sendAPI(ctx)
	}
	return r.finish()
}

// Compose renders the notice Run would send, without sending it: the
// message and the template's name ("custom" for a custom message). It
// returns a zero message when no notice is due (and says why on stdout).
func Compose(ctx context.Context, o *Options) (Message, string, error) {
	r, err := o.start(ctx)
	if err != nil || r == nil {
		return Message{}, "", err
	}
	m, err := r.message(r.facts)
	return m, r.templateName(), err
}

// start decides whether a notice is due (a nil run when not) and gathers
// its facts.
func (o *Options) start(ctx context.Context) (*run, error) {
	p := o.p
	r := &run{o: o, p: p, out: o.out, errw: o.errw, key: p.incidentKey, status: p.jobStatus, name: p.template}
	if r.key == "" {
		r.key = o.d.Job.PipelineID
	}
	r.evs = o.redacted(o.events())
	if r.name == RollbackState {
		f := &Facts{}
		factsFrom(f, r.evs, r.key)
		name, why := rollbackTemplate(f.Rollback)
		if why != "" {
			fmt.Fprintf(r.out, "pmguard notify: not sending: %s\n", why)
			return nil, nil
		}
		r.name = name
	}
	if r.name == "" && p.custom == nil && p.text == "" {
		r.name = DeployFailed
		if r.status == "pass" || r.status == "" && p.event == "pass" {
			r.name = DeploySucceeded
		}
	}
	if r.status == "" && r.name != "" {
		r.status = templates[r.name].status
	}
	if why := r.skip(); why != "" {
		fmt.Fprintf(r.out, "pmguard notify: not sending: %s\n", why)
		return nil, nil
	}
	if o.Settings.WindowsExecution && runtime.GOOS != "windows" {
		fmt.Fprintf(r.out, "pmguard notify: windows_execution is set but this executor runs %s; pmguard finds the platform itself, so it changes nothing\n", runtime.GOOS)
	}
	r.facts = &Facts{Job: o.d.Job, Mentions: p.mentions, Now: o.d.Now(), PostmortemURL: p.postmortemURL, CircleCIHost: p.circleciHost}
	r.facts.Subject = o.Subject(ctx, o.d.Job.SHA)
	factsFrom(r.facts, r.evs, r.key)
	if r.key == "" && p.thread && p.mode == "api" {
		fmt.Fprintln(r.out, "pmguard notify: no pipeline id ($CIRCLE_PIPELINE_ID or incident_key): notices cannot be threaded")
	}
	// Render once now: a custom template that cannot be used is bad input.
	if _, err := r.message(r.facts); err != nil {
		return nil, err
	}
	return r, nil
}

// skip says why no notice is due, or "".
func (r *run) skip() string {
	p, j := r.p, r.o.d.Job
	switch {
	case p.event == "fail" && r.status != "fail":
		if r.status == "" {
			return "event is fail but the job's status is unknown (the orb records it; or set job_status)"
		}
		return "event is fail and the job passed"
	case p.event == "pass" && r.status != "pass":
		if r.status == "" {
			return "event is pass but the job's status is unknown (the orb records it; or set job_status)"
		}
		return "event is pass and the job failed"
	}
	// As in the slack orb, each pattern is checked against its ref when the
	// build has that ref (a tag build has no branch), and an empty pattern
	// filters nothing, with invert_match too; otherwise the ref must match,
	// or with invert_match not.
	does := map[bool]string{true: "matches", false: "does not match"}
	if j.Branch != "" && len(p.branchPatterns) > 0 && matchAny(p.branchPatterns, j.Branch) == p.invert {
		return fmt.Sprintf("branch %q %s branch_pattern%s", j.Branch, does[p.invert], inverted(p.invert))
	}
	if j.Tag != "" && len(p.tagPatterns) > 0 && matchAny(p.tagPatterns, j.Tag) == p.invert {
		return fmt.Sprintf("tag %q %s tag_pattern%s", j.Tag, does[p.invert], inverted(p.invert))
	}
	return ""
}

func inverted(invert bool) string {
	if invert {
		return " (invert_match is set)"
	}
	return ""
}

// readLog reads the event log for figures and thread references; a log
// that cannot be read costs the figures, not the notice.
func (o *Options) readLog() []events.Event {
	path := o.log.Path()
	if path == "" {
		return nil
	}
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	evs, skipped, err := events.ReadFiles(path)
	if err != nil {
		fmt.Fprintf(o.errw, "pmguard notify: warning: event log: %v\n", err)
	}
	if skipped != nil {
		fmt.Fprintf(o.errw, "pmguard notify: warning: %v\n", skipped)
	}
	return evs
}

// redacted is evs as a notice may quote them: a log may hold lines pmguard
// did not redact (another tool's, an older release's), so every string
// goes through the run's redactor first, as in the post-mortem.
func (o *Options) redacted(evs []events.Event) []events.Event {
	out := make([]events.Event, len(evs))
	for i, e := range evs {
		out[i] = e.Redacted(o.d.Redactor.Text)
	}
	return out
}

// message renders the notice from f: the built-in template, or the custom
// one with variables expanded; then cut to Slack's limits.
func (r *run) message(f *Facts) (Message, error) {
	var m Message
	switch {
	case r.name != "":
		m, _ = Render(r.name, f)
	case r.p.text != "":
		m = textMessage(r.p.text)
	default:
		var notes []string
		var err error
		m, notes, err = ParseCustom(r.p.custom, r.lookup(f))
		if err != nil {
			return Message{}, r.o.invalid(r.p.customField, shorten(r.o.d.Redactor.Redact(string(r.p.custom)), 80), err.Error(), "Block Kit JSON")
		}
		for _, n := range notes {
			r.note(n)
		}
	}
	for _, n := range m.Fit(r.o.d.Redactor.Redact) {
		r.note("Slack limit: " + n)
	}
	return m, nil
}

// lookup resolves a custom template's variables: pmguard's own first, then
// the environment's, as far as the allow-list lets them through.
func (r *run) lookup(f *Facts) func(string) string {
	own := map[string]string{
		"PMGUARD_MENTIONS":       r.p.mentions,
		"SLACK_PARAM_MENTIONS":   r.p.mentions,
		"PMGUARD_FIGURES":        bullets(f.failureLines()),
		"PMGUARD_COMMIT_SUBJECT": f.Subject,
		"PMGUARD_JOB_STATUS":     r.status,
		// The slack orb's templates read its circleci_host parameter so.
		"SLACK_PARAM_CIRCLECI_HOST": r.p.circleciHost,
	}
	if f.Rollback != nil {
		own["PMGUARD_ROLLBACK_URL"] = f.Rollback.PipelineURL
	}
	return func(name string) string {
		if v, ok := own[name]; ok {
			return v
		}
		if why := r.p.vars.refusal(name); why != "" {
			r.note(refusedNote(name, why))
			return ""
		}
		v := r.o.d.Getenv(name)
		if v != "" && r.o.d.Redactor.Redact(v) != v {
			// Whatever its name, a value the run knows as a secret stays out.
			r.note(refusedNote(name, "its value holds a secret of this run"))
			return ""
		}
		return v
	}
}

func (r *run) fail(ctx context.Context, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	var se *SlackError
	code, method, channel := "error", "", ""
	if errors.As(err, &se) {
		code, method, channel = se.Code, se.Method, se.Channel
	}
	e := events.Event{Verb: "notify", Event: events.NotifyFailed, Target: channel, Message: err.Error()}
	e.SetFigures(events.Notice{Error: code, Method: method, Channel: channel, Template: r.templateName()})
	r.event(ctx, e)
}

// record appends one of notify's own events.
func (r *run) record(ctx context.Context, name, target string, f any) {
	e := events.Event{Verb: "notify", Event: name, Target: target}
	e.SetFigures(f)
	r.event(ctx, e)
}

func (r *run) templateName() string {
	if r.name != "" {
		return r.name
	}
	return "custom"
}

func (r *run) event(ctx context.Context, e events.Event) {
	if r.key != "" {
		e.PipelineID = r.key
	}
	if err := r.o.log.Append(ctx, e); err != nil {
		fmt.Fprintf(r.errw, "pmguard notify: warning: %v\n", err)
	}
}

// finish reports Slack failures: a warning, or the error with fail_on_error.
func (r *run) finish() error {
	if len(r.errs) == 0 {
		return nil
	}
	err := errors.Join(r.errs...)
	if r.p.failOnError {
		return fmt.Errorf("pmguard notify: %s", r.o.d.Redactor.Redact(err.Error()))
	}
	for _, e := range r.errs {
		fmt.Fprintf(r.errw, "pmguard notify: warning: %v\n", e)
	}
	fmt.Fprintln(r.errw, "pmguard notify: the notice was not (fully) delivered; the deploy guard is not affected (set fail_on_error: true to fail this step instead)")
	return nil
}

func (r *run) sendWebhook(ctx context.Context) {
	if len(r.p.channels) > 0 || r.p.incident || r.p.reminder > 0 || r.p.threadID != "" || r.p.offset > 0 {
		fmt.Fprintln(r.out, "pmguard notify: webhook mode: channel, thread, thread_id, scheduled_offset_seconds, incident_channel and postmortem_reminder need a token and are ignored")
	}
	m, _ := r.message(r.facts)
	if r.p.debug {
		b, _ := json.MarshalIndent(m, "", "  ")
		fmt.Fprintf(r.out, "pmguard notify: debug: webhook:\n%s\n", b)
	}
	if err := postWebhook(ctx, r.o.http, r.p.webhook, r.p.retries+1, m); err != nil {
		r.fail(ctx, err)
		return
	}
	fmt.Fprintf(r.out, "pmguard notify: posted %s through the incoming webhook\n", r.templateName())
	r.record(ctx, events.Notified, "webhook", events.Notice{Channel: "webhook", Template: r.templateName(), Webhook: true})
}

// webhookSecrets are what hides an incoming webhook's URL in any form it is
// printed in: the whole URL is the credential, so its path is a secret
// (Slack's /services/..., a workflow's /triggers/...), as written and as
// Go prints it, with its user info and query values.
func webhookSecrets(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return []string{raw}
	}
	out := []string{raw, u.String(), u.EscapedPath()}
	if u.Path != "/" {
		out = append(out, u.Path)
	}
	return append(out, httpx.URLSecrets(u)...)
}

// redactWriter removes secrets from everything written through it.
type redactWriter struct {
	mu sync.Mutex
	w  io.Writer
	r  *httpx.Redactor
}

func (w *redactWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := io.WriteString(w.w, w.r.Redact(string(b))); err != nil {
		return 0, err
	}
	return len(b), nil
}
