// Package notify posts pmguard's Slack incident notices: built-in Block Kit
// templates filled from the CircleCI job and the event log's figures, custom
// templates, one thread per incident (later notices reply to the first and
// update its status line), an optional incident channel and a post-mortem
// reminder. A Slack failure never fails the deploy guard: it is a warning
// and a notify_failed event unless fail_on_error is set.
package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pmguard/pmguard/internal/clock"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/jobenv"
)

// Options are notify's inputs and dependencies.
type Options struct {
	Settings Settings
	Set      *config.Set // names settings in errors; nil in tests
	Env      config.Env  // secrets and $VARs of custom templates
	Job      jobenv.Job
	Events   *events.Log // where notified/notify_failed go; its file is also read for figures and threads
	HTTP     *httpx.Client
	Out      io.Writer
	Err      io.Writer
	Now      func() time.Time
	Sleep    func(context.Context, time.Duration) error
	// Subject returns the commit's subject line ("" when unknown).
	Subject func(ctx context.Context, sha string) string
	Version string
	// Retries is how often one Slack call is retried (429, 5xx, unreachable); 0 means 3.
	Retries int
}

func (o *Options) defaults() {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Err == nil {
		o.Err = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = clock.Sleep
	}
	if o.Subject == nil {
		o.Subject = func(context.Context, string) string { return "" }
	}
	if o.Env == nil {
		o.Env = config.MapEnv(nil)
	}
	if o.Retries == 0 {
		o.Retries = 3
	}
}

// run is the state of one notify run.
type run struct {
	o      Options
	p      *plan
	out    io.Writer
	errw   io.Writer
	red    *httpx.Redactor
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

// Run sends one notice. It returns bad input (exit 2) before any network
// call; a Slack failure is a warning unless fail_on_error is set.
func Run(ctx context.Context, o Options) error {
	r, mode, err := prepare(ctx, &o)
	if err != nil || r == nil {
		return err
	}
	p := r.p
	switch mode {
	case "preview":
		if p.failOnError {
			return config.Invalidf("pmguard notify: no Slack token in $%s and no webhook URL in $%s (fail_on_error is set)", p.tokenEnv, p.webhookEnv)
		}
		m, _ := r.message(r.facts)
		fmt.Fprintf(r.out, "pmguard notify: no Slack token in $%s and no webhook URL in $%s: showing the message instead of sending it\n\n", p.tokenEnv, p.webhookEnv)
		Preview(r.out, m)
		return nil
	}

	// The whole run, retries and rate-limit waits included, fits in timeout.
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	hc := o.HTTP
	if hc == nil {
		perAttempt := 10 * time.Second
		if p.timeout < perAttempt {
			perAttempt = p.timeout
		}
		hc = httpx.New(httpx.Options{Version: o.Version, Timeout: perAttempt, Retries: -1, Redactor: r.red})
	}
	rt := newRetrier(o.Now, o.Sleep, p.timeout, o.Retries, p.tokenEnv, func(s string) { fmt.Fprintln(r.out, "pmguard notify: "+s) })

	if mode == "webhook" {
		r.sendWebhook(ctx, hc, rt)
	} else {
		r.api = newWebAPI(p.token, p.apiURL, hc, rt)
		r.sendAPI(ctx)
	}
	return r.finish()
}

// Compose renders the notice Run would send, without sending it: the
// message and the template's name ("custom" for a custom template). It
// returns a zero message when the settings say no notice is due.
func Compose(ctx context.Context, o Options) (Message, string, error) {
	r, _, err := prepare(ctx, &o)
	if err != nil || r == nil {
		return Message{}, "", err
	}
	m, err := r.message(r.facts)
	return m, r.templateName(), err
}

// prepare resolves the settings, decides whether a notice is due (a nil run
// when not) and how it goes (api, webhook or preview), and gathers the facts.
func prepare(ctx context.Context, o *Options) (*run, string, error) {
	o.defaults()
	p, err := o.resolve()
	if err != nil {
		return nil, "", err
	}
	p.token = strings.TrimSpace(config.Get(o.Env, p.tokenEnv))
	p.webhook = strings.TrimSpace(config.Get(o.Env, p.webhookEnv))
	red := httpx.NewRedactor(p.token, p.webhook, webhookSecret(p.webhook))
	if o.HTTP != nil {
		o.HTTP.Redactor().Add(p.token, p.webhook, webhookSecret(p.webhook))
	}
	r := &run{o: *o, p: p, red: red, out: &redactWriter{w: o.Out, r: red}, errw: &redactWriter{w: o.Err, r: red}}
	if o.Events != nil {
		o.Events.Redact = red.Redact
	}

	r.key = p.incidentKey
	if r.key == "" {
		r.key = o.Job.PipelineID
	}
	r.status = p.jobStatus
	r.name = p.template
	if r.name == RollbackState {
		r.evs = r.readEvents()
		f := &Facts{}
		factsFrom(f, r.evs, r.key)
		name, why := rollbackTemplate(f.Rollback)
		if why != "" {
			fmt.Fprintf(r.out, "pmguard notify: not sending: %s\n", why)
			return nil, "", nil
		}
		r.name = name
	}
	if r.name == "" && p.custom == nil {
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
		return nil, "", nil
	}

	mode := "api"
	switch {
	case p.token != "":
	case p.webhook != "":
		mode = "webhook"
	default:
		mode = "preview"
	}
	if mode == "api" && len(p.channels) == 0 {
		return nil, "", o.invalid("Channel", "", "no channel given and $SLACK_DEFAULT_CHANNEL is not set", "channel names or IDs, comma-separated")
	}

	if r.evs == nil {
		r.evs = r.readEvents()
	}
	r.facts = &Facts{Job: o.Job, Mentions: p.mentions, Now: o.Now(), PostmortemURL: p.postmortemURL}
	r.facts.Subject = o.Subject(ctx, o.Job.SHA)
	factsFrom(r.facts, r.evs, r.key)
	if r.key == "" && p.thread && mode == "api" {
		fmt.Fprintln(r.out, "pmguard notify: no pipeline id ($CIRCLE_PIPELINE_ID or incident_key): notices cannot be threaded")
	}
	// Render once now: a custom template that cannot be used is bad input.
	if _, err := r.message(r.facts); err != nil {
		return nil, "", err
	}
	return r, mode, nil
}

// skip says why no notice is due, or "".
func (r *run) skip() string {
	p, j := r.p, r.o.Job
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
	if j.Tag != "" && !matchAny(p.tagPatterns, j.Tag) {
		return fmt.Sprintf("tag %q does not match tag_pattern", j.Tag)
	}
	if j.Tag == "" && j.Branch != "" && !matchAny(p.branchPatterns, j.Branch) {
		return fmt.Sprintf("branch %q does not match branch_pattern", j.Branch)
	}
	return ""
}

// readEvents reads the event log for figures and thread references; a log
// that cannot be read costs the figures, not the notice.
func (r *run) readEvents() []events.Event {
	if r.o.Events == nil || r.o.Events.Path() == "" {
		return nil
	}
	path := r.o.Events.Path()
	if _, err := os.Stat(path); err != nil {
		return nil
	}
	evs, err := events.ReadFiles(path)
	if err != nil {
		fmt.Fprintf(r.errw, "pmguard notify: warning: event log: %v\n", err)
	}
	return evs
}

// message renders the notice from f: the built-in template, or the custom
// one with variables expanded; then cut to Slack's limits.
func (r *run) message(f *Facts) (Message, error) {
	var m Message
	if r.name != "" {
		m, _ = Render(r.name, f)
	} else {
		var notes []string
		var err error
		m, notes, err = ParseCustom(r.p.custom, r.lookup(f))
		if err != nil {
			field := map[string]string{"custom": "Custom", "template_file": "TemplateFile"}[r.p.customSource]
			return Message{}, r.o.invalid(field, shorten(string(r.p.custom), 80), err.Error(), "Block Kit JSON")
		}
		for _, n := range notes {
			r.note(n)
		}
	}
	for _, n := range m.Fit() {
		r.note("Slack limit: " + n)
	}
	return m, nil
}

// lookup resolves a custom template's variables: pmguard's own first, then
// the environment.
func (r *run) lookup(f *Facts) func(string) string {
	own := map[string]string{
		"PMGUARD_MENTIONS":       r.p.mentions,
		"SLACK_PARAM_MENTIONS":   r.p.mentions,
		"PMGUARD_FIGURES":        bullets(f.failureLines()),
		"PMGUARD_COMMIT_SUBJECT": f.Subject,
		"PMGUARD_JOB_STATUS":     r.status,
	}
	if f.Rollback != nil {
		own["PMGUARD_ROLLBACK_URL"] = f.Rollback.PipelineURL
	}
	return func(name string) string {
		if v, ok := own[name]; ok {
			return v
		}
		if name == r.p.tokenEnv || name == r.p.webhookEnv {
			return "" // a template must not be a way to post the secret
		}
		return config.Get(r.o.Env, name)
	}
}

func (r *run) fail(err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	var se *SlackError
	code, method, channel := "error", "", ""
	if errors.As(err, &se) {
		code, method, channel = se.Code, se.Method, se.Channel
	}
	r.event(events.Event{Verb: "notify", Event: "notify_failed", Target: channel, Message: err.Error(),
		Figures: map[string]any{"error": code, "method": method, "channel": channel, "template": r.templateName()}})
}

func (r *run) templateName() string {
	if r.name != "" {
		return r.name
	}
	return "custom"
}

func (r *run) event(e events.Event) {
	if r.key != "" {
		e.PipelineID = r.key
	}
	if err := r.o.Events.Append(e); err != nil {
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
		return fmt.Errorf("pmguard notify: %s", r.red.Redact(err.Error()))
	}
	for _, e := range r.errs {
		fmt.Fprintf(r.errw, "pmguard notify: warning: %v\n", e)
	}
	fmt.Fprintln(r.errw, "pmguard notify: the notice was not (fully) delivered; the deploy guard is not affected (set fail_on_error: true to fail this step instead)")
	return nil
}

func (r *run) sendWebhook(ctx context.Context, hc *httpx.Client, rt *retrier) {
	if len(r.p.channels) > 0 || r.p.incident || r.p.reminder > 0 {
		fmt.Fprintln(r.out, "pmguard notify: webhook mode: channel, thread, incident_channel and postmortem_reminder need a token and are ignored")
	}
	m, _ := r.message(r.facts)
	if err := postWebhook(ctx, hc, rt, r.p.webhook, m); err != nil {
		r.fail(err)
		return
	}
	fmt.Fprintf(r.out, "pmguard notify: posted %s through the incoming webhook\n", r.templateName())
	r.event(events.Event{Verb: "notify", Event: "notified", Target: "webhook",
		Figures: map[string]any{"channel": "webhook", "template": r.templateName(), "webhook": true}})
}

// webhookSecret is the part of an incoming webhook URL that is the secret
// (/services/T../B../XXXX), so it is redacted even when printed alone.
func webhookSecret(u string) string {
	if i := strings.Index(u, "/services/"); i >= 0 {
		return u[i:]
	}
	return ""
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
