package notify

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/slack-go/slack"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/verb"
)

// Notice is a Slack notice another verb posts: postmortem's link to its
// draft, dora's summary.
type Notice struct {
	Channel  string         // a channel name or ID
	TokenEnv config.EnvName // the env var holding the bot token
	// Template is a built-in template; Text, when set instead, is the
	// notice's own plain text, shown as written (&, <, > are escaped).
	Template string
	Text     string
	// Thread puts the notice into the thread of incident IncidentKey (a
	// pipeline id), found among Events.
	Thread        bool
	IncidentKey   string
	PostmortemURL string
	// Events are what the notice's figures and thread come from.
	Events []events.Event
}

// Poster posts other verbs' notices with notify's defaults, limits, errors
// and threads.
type Poster struct {
	d   *verb.Deps
	log *events.Log
}

// NewPoster returns a Poster over d that records its notified and
// notify_failed events in log.
func NewPoster(d *verb.Deps, log *events.Log) *Poster { return &Poster{d: d, log: log} }

// Post sends n. Like the notify verb it sends through the Web API, an
// incoming webhook or, with neither credential, prints a preview; a Slack
// failure is a warning on stderr, not an error.
func (p *Poster) Post(ctx context.Context, n Notice) error {
	o, err := p.options(ctx, n.Channel, n.TokenEnv, n.IncidentKey)
	if err != nil {
		return err
	}
	s := &o.Settings
	s.Template, s.Thread = n.Template, n.Thread
	if u, err := config.ParseURL(n.PostmortemURL); err == nil {
		s.PostmortemURL.URL = u
	}
	if err := o.build(); err != nil {
		return err
	}
	o.p.text = escapeText(n.Text)
	o.events = func() []events.Event { return n.Events }
	return Run(ctx, o)
}

// options are the notify verb's defaults, from its settings' tags, with
// none of the job's PMGUARD_NOTIFY_* settings (they are for the notify
// steps), set to post into channel for the incident incidentKey with the
// token in tokenEnv ("": the default).
func (p *Poster) options(ctx context.Context, channel string, tokenEnv config.EnvName, incidentKey string) (*Options, error) {
	o := &Options{d: p.d, log: p.log}
	s := &o.Settings
	env := withoutNotifySettings{p.d.Env}
	set, _, err := config.Load(ctx, "notify", nil, env, s, io.Discard)
	if err != nil {
		return nil, err
	}
	// As d.Load does for a verb's own settings: the Slack API URL's
	// credentials, for one, stay out of every message.
	secrets, err := set.Secrets(s, env)
	if err != nil {
		return nil, err
	}
	p.d.Redactor.Add(secrets...)
	s.Channel, s.IncidentKey = config.List{channel}, incidentKey
	if tokenEnv != "" {
		s.TokenEnv = tokenEnv
	}
	return o, nil
}

// Reminder is a message another verb schedules for later: postmortem's
// meeting reminder.
type Reminder struct {
	Channel  string
	TokenEnv config.EnvName
	// Thread puts it into the thread of incident IncidentKey, found among
	// Events, when there is one.
	Thread      bool
	IncidentKey string
	Events      []events.Event
	PostAt      time.Time
	// Text is the message, shown as written (&, <, > are escaped).
	Text string
	// Marker is a piece of Text that names this reminder: a scheduled
	// message holding it means the reminder is already scheduled.
	Marker string
}

// Schedule schedules r with chat.scheduleMessage, once: a rerun finds the
// message it scheduled before among the channel's scheduled messages
// (chat.scheduledMessages.list, by r.Marker) and leaves it. Without a
// token it says what it would schedule. A Slack failure is a warning on
// stderr and a notify_failed event, not an error.
func (p *Poster) Schedule(ctx context.Context, r Reminder) error {
	o, err := p.options(ctx, r.Channel, r.TokenEnv, r.IncidentKey)
	if err != nil {
		return err
	}
	if err := o.build(); err != nil {
		return err
	}
	when := r.PostAt.UTC().Format("2006-01-02 15:04 UTC")
	if o.p.mode != "api" {
		fmt.Fprintf(o.out, "pmguard notify: no Slack token in $%s: the reminder for %s is not scheduled (an incoming webhook cannot schedule)\n", o.p.tokenEnv, when)
		return nil
	}
	if !r.PostAt.After(p.d.Now()) {
		fmt.Fprintf(o.out, "pmguard notify: the reminder time %s has passed: not scheduled\n", when)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, o.p.timeout)
	defer cancel()
	api := newWebAPI(o.p.token, o.p.apiURL, o.http, o.p.tokenEnv, p.d.Now)
	run := &run{o: o, p: o.p, out: o.out, errw: o.errw, key: r.IncidentKey, evs: o.redacted(r.Events), api: api}
	target, threadTS := r.Channel, ""
	if r.Thread && r.IncidentKey != "" {
		if ref, ok := run.thread(ctx, r.Channel); ok {
			target, threadTS = ref.ChannelID, ref.TS
		}
	}
	if r.Marker != "" {
		found, err := api.findScheduled(ctx, target, func(m slack.ScheduledMessage) bool { return strings.Contains(m.Text, r.Marker) })
		if err != nil {
			run.fail(ctx, err)
			return run.finish()
		}
		if found != "" {
			fmt.Fprintf(o.out, "pmguard notify: the reminder is already scheduled (%s): left as it is\n", found)
			return nil
		}
	}
	m := textMessage(escapeText(r.Text))
	at, id, err := api.scheduleMoving(ctx, target, threadTS, r.PostAt, m, func(string, time.Time) (time.Time, bool) { return time.Time{}, false })
	if err != nil {
		run.fail(ctx, err)
		return run.finish()
	}
	fmt.Fprintf(o.out, "pmguard notify: reminder scheduled for %s in %s\n", at.UTC().Format("2006-01-02 15:04 UTC"), channelLabel(r.Channel))
	run.record(ctx, events.PostmortemReminderScheduled, target, events.Notice{Channel: target, ThreadTS: threadTS, ScheduledMessageID: id,
		PostAt: strconv.FormatInt(at.Unix(), 10), Template: "custom"})
	return nil
}

// ParseReminder reads a reminder delay as postmortem_reminder does: "" or
// false is off, true is 3 days, else a delay such as 3d, 36h or 90m.
func ParseReminder(v string) (time.Duration, error) { return parseReminder(v) }

// withoutNotifySettings is an environment without PMGUARD_NOTIFY_* variables.
type withoutNotifySettings struct{ env config.Env }

func (e withoutNotifySettings) Lookup(key string) (string, bool) {
	if strings.HasPrefix(key, "PMGUARD_NOTIFY_") {
		return "", false
	}
	return e.env.Lookup(key)
}
