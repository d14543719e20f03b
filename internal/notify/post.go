package notify

import (
	"context"
	"io"
	"strings"

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
	o, err := p.options(ctx)
	if err != nil {
		return err
	}
	s := &o.Settings
	s.Channel = config.List{n.Channel}
	s.Template, s.Thread, s.IncidentKey = n.Template, n.Thread, n.IncidentKey
	if n.TokenEnv != "" {
		s.TokenEnv = n.TokenEnv
	}
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
// none of the job's PMGUARD_NOTIFY_* settings: they are for the notify
// steps.
func (p *Poster) options(ctx context.Context) (*Options, error) {
	o := &Options{d: p.d, log: p.log}
	if _, _, err := config.Load(ctx, "notify", nil, withoutNotifySettings{p.d.Env}, &o.Settings, io.Discard); err != nil {
		return nil, err
	}
	return o, nil
}

// withoutNotifySettings is an environment without PMGUARD_NOTIFY_* variables.
type withoutNotifySettings struct{ env config.Env }

func (e withoutNotifySettings) Lookup(key string) (string, bool) {
	if strings.HasPrefix(key, "PMGUARD_NOTIFY_") {
		return "", false
	}
	return e.env.Lookup(key)
}
