package postmortem

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/datadog"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/human"
	"github.com/pmguard/pmguard/internal/notify"
	"github.com/pmguard/pmguard/internal/pagerduty"
)

// ImportSettings are the settings of the importers: the systems where
// detection and triage happen, read for the incident's window so nobody
// types their entries by hand.
type ImportSettings struct {
	DatadogAPIKeyEnv  config.EnvName  `env:"DATADOG_API_KEY_ENV, default=DD_API_KEY" flag:"datadog-api-key-env" group:"Importers" usage:"name of the env var holding the Datadog API key"`
	DatadogAppKeyEnv  config.EnvName  `env:"DATADOG_APP_KEY_ENV, default=DD_APP_KEY" flag:"datadog-app-key-env" group:"Importers" usage:"name of the env var holding the Datadog application key (needs events_read)"`
	DatadogSite       string          `env:"DATADOG_SITE, default=datadoghq.com" flag:"datadog-site" group:"Importers" form:"a Datadog site such as datadoghq.eu, or an http(s) URL of an API endpoint" usage:"the Datadog site"`
	DatadogQuery      string          `env:"DATADOG_QUERY" flag:"datadog-query" group:"Importers" usage:"Datadog event search for the incident's events, e.g. service:checkout (with datadog_events_api v1: comma-separated tags); empty: Datadog is not read"`
	DatadogEventsAPI  string          `env:"DATADOG_EVENTS_API, default=v2" flag:"datadog-events-api" group:"Importers" form:"v2 or v1" usage:"which Datadog events API to read: v2 (event search), or the v1 events stream"`
	PagerDutyTokenEnv config.EnvName  `env:"PAGERDUTY_TOKEN_ENV, default=PAGERDUTY_TOKEN" flag:"pagerduty-token-env" group:"Importers" usage:"name of the env var holding a PagerDuty REST API key"`
	PagerDutyIncident string          `env:"PAGERDUTY_INCIDENT" flag:"pagerduty-incident" group:"Importers" form:"a PagerDuty incident id such as Q1CHECKOUT0XYZ" usage:"the PagerDuty incident whose log entries and notes are imported (empty: PagerDuty is not read)"`
	PagerDutyAPIURL   config.BaseURL  `env:"PAGERDUTY_API_URL, default=https://api.pagerduty.com" flag:"pagerduty-api-url" group:"Importers" usage:"PagerDuty API URL (https://api.eu.pagerduty.com for the EU service region)"`
	SlackThread       string          `env:"SLACK_THREAD, default=auto" flag:"slack-thread" group:"Importers" form:"auto, none, or CHANNEL_ID/TS such as C0INCIDENTS/1763648705.000100" usage:"the incident's Slack thread to import: auto (the thread of the incident's first notice, when the Slack token is set), none, or a channel id and ts"`
	ImportExclude     config.Lines    `env:"IMPORT_EXCLUDE" flag:"import-exclude" group:"Importers" form:"a source (datadog), a source and kind (pagerduty:escalated, slack:message), or an entry's ref (slack:1763648820.000100)" usage:"imported entries to leave out, one per line (repeatable)"`
	ImportWindow      config.Duration `env:"IMPORT_WINDOW, default=24h" flag:"import-window" group:"Importers" usage:"how long after the deploy (30 min before it) events are imported for"`
}

// Importers read the incident's external events; nil fields are not read.
type Importers struct {
	Datadog      *datadog.Client
	DatadogQuery string
	// DatadogV1 reads the v1 events stream instead of the v2 API.
	DatadogV1 bool
	PagerDuty *pagerduty.Client
	// PagerDutyIncident is the incident id.
	PagerDutyIncident string
	// SlackThread reads a thread; SlackChannel and SlackTS name it, empty
	// ones are found from the incident's first notice.
	SlackThread func(ctx context.Context, channel, ts string) ([]notify.ThreadMessage, error)
	// FindSlackThread finds the incident's thread in Slack when the event
	// logs do not name it (slack_thread: auto with slack_channel set).
	FindSlackThread func(ctx context.Context, incidentKey string) (channel, ts string, ok bool, err error)
	SlackChannel    string
	SlackTS         string
	// Exclude are refs, sources or source:kind pairs to leave out.
	Exclude []string
	// Window is how long after the window's start events are read.
	Window time.Duration
	// Redact removes secrets from the text imported (the run's
	// Redactor.Text: the secrets it knows, and what has a credential's
	// shape), before any of it is cut or shown; nil: httpx.RedactText.
	Redact func(string) string
}

// slackAccessCodes are Slack's answers for a thread the token may not read.
var slackAccessCodes = map[string]bool{"missing_scope": true, "not_in_channel": true, "channel_not_found": true, "access_denied": true}

var slackThreadRe = regexp.MustCompile(`^([CGD][A-Z0-9]{2,})/(\d{9,}\.\d{6})$`)

// importers builds the importers from the settings. A Datadog query, a
// PagerDuty incident or a named thread without its credentials is bad
// input.
func (o *Options) importers(set *config.Set) (*Importers, error) {
	s, d := &o.Settings.ImportSettings, o.d
	im := &Importers{Exclude: s.ImportExclude, Window: time.Duration(s.ImportWindow.Duration), DatadogQuery: s.DatadogQuery, Redact: d.Redactor.Text}
	switch s.DatadogEventsAPI {
	case "v2", "":
	case "v1":
		im.DatadogV1 = true
	default:
		return nil, set.Invalid(&s.DatadogEventsAPI, s.DatadogEventsAPI, "not v2 or v1", "")
	}
	if im.Window <= 0 {
		return nil, set.Invalid(&s.ImportWindow, s.ImportWindow.String(), "must be more than 0", "")
	}
	for _, x := range s.ImportExclude {
		if !strings.Contains(x, ":") && !knownSource(x) {
			return nil, set.Invalid(&s.ImportExclude, x, "not a source, source:kind or ref", "")
		}
	}
	// Datadog keys are often in CI contexts for other reasons: the import
	// starts only when a query says which events belong to the incident.
	api, app := strings.TrimSpace(d.Getenv(string(s.DatadogAPIKeyEnv))), strings.TrimSpace(d.Getenv(string(s.DatadogAppKeyEnv)))
	if q := strings.TrimSpace(s.DatadogQuery); q != "" {
		for _, k := range []*config.EnvName{&s.DatadogAPIKeyEnv, &s.DatadogAppKeyEnv} {
			if strings.TrimSpace(d.Getenv(string(*k))) == "" {
				return nil, set.EmptyEnv(k, ", and Datadog events can only be read with an API key and an application key", "")
			}
		}
		c, err := datadog.New(datadog.Options{Site: s.DatadogSite, APIKey: api, AppKey: app, NewHTTP: d.HTTP})
		if err != nil {
			return nil, set.Invalid(&s.DatadogSite, s.DatadogSite, err.Error(), "")
		}
		im.Datadog = c
	}
	if id := strings.TrimSpace(s.PagerDutyIncident); id != "" {
		if !pdIDRe.MatchString(id) {
			return nil, set.Invalid(&s.PagerDutyIncident, id, "not a PagerDuty incident id", "")
		}
		token := strings.TrimSpace(d.Getenv(string(s.PagerDutyTokenEnv)))
		if token == "" {
			return nil, set.EmptyEnv(&s.PagerDutyTokenEnv, ", and the incident can only be read with a PagerDuty API key", "")
		}
		c, err := pagerduty.New(pagerduty.Options{BaseURL: s.PagerDutyAPIURL.String(), Token: token, HTTP: d.HTTP(httpx.Options{})})
		if err != nil {
			return nil, set.Invalid(&s.PagerDutyAPIURL, s.PagerDutyAPIURL.String(), err.Error(), "")
		}
		im.PagerDuty, im.PagerDutyIncident = c, id
	}
	switch v := strings.TrimSpace(s.SlackThread); {
	case v == "none":
	case v == "auto" || v == "":
		if d.Getenv(string(o.Settings.SlackTokenEnv)) != "" {
			im.SlackThread = o.readThread
			if ch := o.Settings.SlackChannel; ch != "" {
				im.FindSlackThread = func(ctx context.Context, key string) (string, string, bool, error) {
					return notify.NewPoster(o.d, o.Log).FindThread(ctx, o.Settings.SlackTokenEnv, ch, key)
				}
			}
		}
	default:
		m := slackThreadRe.FindStringSubmatch(v)
		if m == nil {
			return nil, set.Invalid(&s.SlackThread, v, "not auto, none or CHANNEL_ID/TS", "")
		}
		if d.Getenv(string(o.Settings.SlackTokenEnv)) == "" {
			return nil, set.EmptyEnv(&o.Settings.SlackTokenEnv, ", and the thread can only be read with a Slack bot token", "")
		}
		im.SlackThread, im.SlackChannel, im.SlackTS = o.readThread, m[1], m[2]
	}
	return im, nil
}

var pdIDRe = regexp.MustCompile(`^[A-Z0-9]{5,20}$`)

func (o *Options) readThread(ctx context.Context, channel, ts string) ([]notify.ThreadMessage, error) {
	return notify.NewPoster(o.d, o.Log).ReadThread(ctx, o.Settings.SlackTokenEnv, channel, ts)
}

// The sources imported entries keep, as the tools name themselves.
const (
	SourceDatadog   = "Datadog"
	SourcePagerDuty = "PagerDuty"
	SourceSlack     = "Slack"
)

func knownSource(s string) bool {
	for _, k := range []string{SourceDatadog, SourcePagerDuty, SourceSlack} {
		if strings.EqualFold(s, k) {
			return true
		}
	}
	return false
}

// imported is one entry with what exclusion matches on.
type imported struct {
	Entry
	kind string
}

// gather reads every importer for the window starting at from. Each
// failure is kept as a note, its importer named in incomplete, and
// returned joined: the draft is still written with what was read.
func (im *Importers) gather(ctx context.Context, from, now time.Time, evs []events.Event, incidentKey string) (entries []Entry, notes, incomplete []string, err error) {
	if im == nil {
		return nil, nil, nil, nil
	}
	w := im.Window
	if w <= 0 {
		w = 24 * time.Hour
	}
	to := from.Add(w)
	if now.Before(to) {
		to = now
	}
	var all []imported
	var errs []error
	failed := func(what string, err error) { // what as it reads mid-sentence
		notes = append(notes, strings.ToUpper(what[:1])+what[1:]+" could not be read completely: "+err.Error())
		incomplete = append(incomplete, what)
		errs = append(errs, err)
	}
	if im.Datadog != nil {
		read := im.Datadog.Events
		if im.DatadogV1 {
			read = im.Datadog.EventsV1
		}
		es, err := read(ctx, im.DatadogQuery, from, to)
		for i := range es {
			es[i].Title, es[i].Message, es[i].Monitor = im.redact(es[i].Title), im.redact(es[i].Message), im.redact(es[i].Monitor)
		}
		all = append(all, datadogEntries(es)...)
		if err != nil {
			failed("Datadog", err)
		}
	}
	if im.PagerDuty != nil {
		es, err := im.pagerDuty(ctx)
		all = append(all, es...)
		if err != nil {
			failed("PagerDuty", err)
		}
	}
	if im.SlackThread != nil {
		ch, ts := im.SlackChannel, im.SlackTS
		ok := ch != ""
		if !ok {
			ch, ts, ok = notify.IncidentThread(evs, incidentKey)
		}
		if !ok && im.FindSlackThread != nil && incidentKey != "" {
			var err error
			if ch, ts, ok, err = im.FindSlackThread(ctx, incidentKey); err != nil {
				notes = append(notes, "The Slack thread was not looked for in Slack: "+err.Error()+" (set slack_thread: none to stop trying)")
			}
		}
		if ok {
			ms, err := im.SlackThread(ctx, ch, ts)
			all = append(all, slackEntries(withoutNotices(ms, evs))...)
			var se *notify.SlackError
			switch {
			case err == nil:
			case im.SlackChannel == "" && errors.As(err, &se) && slackAccessCodes[se.Code]:
				// Found on its own (slack_thread: auto), the thread is a
				// bonus: a token that may post but not read history
				// must not fail every post-mortem.
				notes = append(notes, "The Slack thread was not imported: "+err.Error()+" (set slack_thread: none to stop trying)")
			default:
				failed("the Slack thread", err)
			}
		}
	}
	var out []Entry
	for _, e := range all {
		if !im.excluded(e) {
			// Imported text is people's own words: whatever addresses they
			// wrote are left out, as the names in the sources' own fields are.
			e.Event, e.Impact = withoutAddresses(im.redact(e.Event)), withoutAddresses(im.redact(e.Impact))
			e.Link = im.redact(e.Link)
			out = append(out, e.Entry)
		}
	}
	return out, notes, incomplete, errors.Join(errs...)
}

func (im *Importers) redact(s string) string {
	if im.Redact == nil {
		return httpx.RedactText(s)
	}
	return im.Redact(s)
}

func (im *Importers) excluded(e imported) bool {
	for _, x := range im.Exclude {
		x = strings.TrimSpace(x)
		src, rest, _ := strings.Cut(x, ":")
		if !strings.EqualFold(src, e.Source) {
			continue
		}
		if rest == "" || strings.EqualFold(rest, e.kind) || strings.EqualFold(x, e.Ref) {
			return true
		}
	}
	return false
}

func ref(source, id string) string { return strings.ToLower(source) + ":" + id }

// titleTagRe is the tags Datadog puts before a monitor's name: its state,
// after the monitor's priority when it has one ("[P2] [Triggered] …").
var titleTagRe = regexp.MustCompile(`^(\[[^\]]*\]\s*)+`)

func datadogEntries(es []datadog.Event) []imported {
	var out []imported
	for _, e := range es {
		name := e.Monitor
		if name == "" {
			name = strings.TrimSpace(titleTagRe.ReplaceAllString(e.Title, ""))
		}
		en := Entry{Time: e.Time, Source: SourceDatadog, Ref: ref(SourceDatadog, e.ID)}
		kind := e.Transition()
		switch kind {
		case "alert":
			en.Event, en.Mark = fmt.Sprintf("Monitor %q alerted", name), MarkDetected
		case "warning":
			en.Event = fmt.Sprintf("Monitor %q warned", name)
		case "recovered":
			en.Event = fmt.Sprintf("Monitor %q recovered", name)
		default:
			kind, en.Event = "event", firstNonEmpty(e.Title, firstLine(e.Message))
		}
		if kind != "event" {
			en.Impact = human.Clip(firstLine(withoutHandles(stripMarkup(e.Message))), 120)
		}
		out = append(out, imported{en, kind})
	}
	return out
}

// pagerDuty turns the incident's log into entries. People appear by what
// they did (acknowledged, added a note), never by name: log entry summaries
// name them, so they are not shown.
func (im *Importers) pagerDuty(ctx context.Context) ([]imported, error) {
	c, id := im.PagerDuty, im.PagerDutyIncident
	inc, err := c.Incident(ctx, id)
	if err != nil {
		return nil, err
	}
	log, err := c.LogEntries(ctx, id)
	label := "PagerDuty incident"
	if inc.Number > 0 {
		label += " #" + strconv.Itoa(inc.Number)
	}
	var out []imported
	triggered := false
	for _, e := range log {
		en := Entry{Time: e.CreatedAt, Source: SourcePagerDuty, Ref: ref(SourcePagerDuty, e.ID), Link: e.HTMLURL}
		var kind string
		switch e.Type {
		case "trigger_log_entry":
			kind, en.Event = "triggered", label+" triggered: "+inc.Title
			if !triggered {
				en.Mark, triggered = MarkDetected, true
			}
		case "acknowledge_log_entry":
			kind, en.Event, en.Mark = "acknowledged", "Page acknowledged by the on-call responder", MarkDeclared
		case "escalate_log_entry":
			kind, en.Event = "escalated", "Incident escalated to the next on-call level"
		case "resolve_log_entry":
			kind, en.Event, en.Mark = "resolved", label+" resolved", MarkResolved
		case "urgency_change_log_entry":
			kind, en.Event = "urgency", "Urgency changed"
		default:
			// Notifications, assignments and annotations: notes come from the
			// notes API, the rest name people.
			continue
		}
		out = append(out, imported{en, kind})
	}
	if err != nil {
		return out, err
	}
	notes, err := c.Notes(ctx, id)
	for _, n := range notes {
		text := firstLine(n.Content)
		out = append(out, imported{Entry{Time: n.CreatedAt, Source: SourcePagerDuty, Ref: ref(SourcePagerDuty, n.ID), Event: "Note: " + text, Mark: keyMark(text)}, "note"})
	}
	return out, err
}

// withoutNotices leaves out pmguard's own notices (the thread's parent and
// its threaded updates): the notified events name them, and they are in
// the timeline already.
func withoutNotices(ms []notify.ThreadMessage, evs []events.Event) []notify.ThreadMessage {
	ours := map[string]bool{}
	for _, e := range events.Filter(evs, events.Notified) {
		var n events.Notice
		e.Decode(&n)
		ours[n.TS] = true
	}
	var out []notify.ThreadMessage
	for _, m := range ms {
		if !ours[m.TS] {
			out = append(out, m)
		}
	}
	return out
}

// slackEntries are the people's messages of the thread (pmguard's own
// notices are in the timeline already). Pinned and starred ones are key
// moments; a key moment that begins with "Root cause", "Mitigated",
// "Restored", "All clear" or "Resolved" marks that moment.
func slackEntries(ms []notify.ThreadMessage) []imported {
	var out []imported
	for _, m := range ms {
		text := firstLine(stripMarkup(m.Text))
		if m.Bot || text == "" || m.Time.IsZero() {
			continue
		}
		en := Entry{Time: m.Time, Source: SourceSlack, Ref: ref(SourceSlack, m.TS), Event: text}
		kind := "message"
		if m.Pinned || m.Starred {
			kind = "key"
			en.Mark = keyMark(text)
			if m.Pinned {
				en.Event = "Pinned: " + text
			} else {
				en.Event = "Starred: " + text
			}
		}
		out = append(out, imported{en, kind})
	}
	return out
}

var keyMarks = []struct {
	prefix string
	mark   Mark
}{
	{"root cause", MarkRootCause},
	{"mitigated", MarkMitigated},
	{"restored", MarkMitigated},
	{"all clear", MarkResolved},
	{"resolved", MarkResolved},
}

func keyMark(text string) Mark {
	t := strings.ToLower(strings.TrimSpace(text))
	for _, k := range keyMarks {
		if strings.HasPrefix(t, k.prefix) {
			return k.mark
		}
	}
	return ""
}

var (
	slackUserRe    = regexp.MustCompile(`<@[UW][A-Z0-9]+(\|[^>]*)?>`)
	slackChannelRe = regexp.MustCompile(`<#[CG][A-Z0-9]+\|([^>]*)>`)
	slackLinkRe    = regexp.MustCompile(`<(https?://[^|>]+)(\|([^>]*))?>`)
	slackSpecialRe = regexp.MustCompile(`<!(here|channel|everyone)[^>]*>`)
)

var (
	// addressRe is an email address, with the @ a Datadog notification or a
	// mention may put before it, or a Slack mailto link: forms of the
	// source's markup that the document's scrubber (scrub.go) does not know.
	addressRe = regexp.MustCompile(`<mailto:[^>]*>|@?[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}`)
	// handleRe is a Datadog notification handle (@pagerduty-checkout,
	// @slack-incidents, @dana, @dana@acme.com): who was told, not what
	// happened.
	handleRe = regexp.MustCompile(`(^|\s)@[\w.@-]+`)
)

// withoutAddresses puts "a responder" for every email address in s
// (blameless: the draft names no one).
func withoutAddresses(s string) string { return addressRe.ReplaceAllString(s, "a responder") }

// withoutHandles leaves out a monitor message's notification handles.
func withoutHandles(s string) string {
	return strings.Join(strings.Fields(withoutAddresses(handleRe.ReplaceAllString(s, "$1"))), " ")
}

// stripMarkup turns Slack's mrkdwn references into plain words, people
// into "a responder" (blameless: the draft names no one).
func stripMarkup(s string) string {
	s = slackUserRe.ReplaceAllString(s, "a responder")
	s = slackChannelRe.ReplaceAllString(s, "#$1")
	s = slackSpecialRe.ReplaceAllString(s, "@$1")
	s = slackLinkRe.ReplaceAllStringFunc(s, func(m string) string {
		p := slackLinkRe.FindStringSubmatch(m)
		if p[3] != "" {
			return p[3]
		}
		return p[1]
	})
	return strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(s)
}

// importStart is where the import window starts: 30 minutes before the
// earliest moment known so far (the deploy), else a day before now.
func importStart(pipelines []Pipeline, evs []events.Event, inc *Incident, now time.Time) time.Time {
	var first time.Time
	consider := func(t time.Time) {
		if !t.IsZero() && (first.IsZero() || t.Before(first)) {
			first = t
		}
	}
	for _, p := range pipelines {
		consider(p.Created)
	}
	for _, e := range evs {
		consider(e.Time)
	}
	for _, e := range incidentEntries(inc) {
		consider(e.Time)
	}
	if first.IsZero() {
		return now.Add(-24 * time.Hour)
	}
	return first.Add(-30 * time.Minute)
}

// printImported lists what was imported with each entry's ref, the handle
// import_exclude takes.
func printImported(w io.Writer, es []Entry) {
	if len(es) == 0 {
		return
	}
	fmt.Fprintf(w, "Imported %d timeline entries (leave one out with import_exclude):\n", len(es))
	for _, e := range es {
		fmt.Fprintf(w, "  %s  %-9s  %-60s  %s\n", e.Time.UTC().Format("2006-01-02 15:04:05"), e.Source, human.Clip(e.Event, 60), e.Ref)
	}
	fmt.Fprintln(w)
}
