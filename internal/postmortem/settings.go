package postmortem

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/notify"
	"github.com/pmguard/pmguard/internal/verb"
)

// Settings are the settings of pmguard postmortem.
type Settings struct {
	config.Shared
	FailedPipeline   string          `env:"FAILED_PIPELINE" flag:"failed-pipeline" usage:"id of the pipeline whose deploy failed (default: from the event log's rollback_initiated, else $CIRCLE_PIPELINE_ID; a rollback pipeline leads to the one it rolled back)"`
	RollbackPipeline string          `env:"ROLLBACK_PIPELINE" flag:"rollback-pipeline" usage:"id of the rollback pipeline (default: from the event log, else the pipeline whose pmguard_rollback_of names the failed one)"`
	EventLogs        config.Lines    `env:"EVENT_LOGS" flag:"event-log" usage:"an event log file, or a directory of *.jsonl files, to read (repeatable; default: $PMGUARD_EVENTS_FILE when it exists)"`
	IncidentFile     string          `env:"INCIDENT_FILE, default=incident.yml" flag:"incident-file" usage:"the team's incident.yml: severity, timeline entries, 5 Whys, action items (optional at its default path)"`
	OutputDir        string          `env:"OUTPUT_DIR, default=postmortem" flag:"output-dir" usage:"where postmortem.md and postmortem.html are written"`
	TokenEnv         config.EnvName  `env:"TOKEN_ENV, default=CIRCLE_TOKEN" flag:"token-env" usage:"name of the env var holding the CircleCI API token (without it, only the event logs and incident.yml are used)"`
	Deadline         config.Duration `env:"DEADLINE, default=10m" flag:"deadline" usage:"overall cap for the whole run: no request, retry or Retry-After wait goes past it; a server asking to wait longer than what is left fails that request at once (0: none)"`
	Host             config.BaseURL  `env:"PMGUARD_CIRCLECI_HOST, default=https://circleci.com" flag:"circleci-host" usage:"CircleCI host (CircleCI server installs)"`
	Title            string          `env:"TITLE" flag:"title" usage:"the document's title (default: incident.yml's title, else the deploy's pipeline number)"`
	FollowUp         string          `env:"FOLLOW_UP" flag:"follow-up" form:"a date such as 2026-11-27, or days from now such as 5d or 2w" usage:"date of the post-mortem review (default: incident.yml's follow_up)"`
	Link             config.URL      `env:"LINK" flag:"link" usage:"where readers find the draft, posted to Slack (default: this job's page, $CIRCLE_BUILD_URL)"`
	SlackChannel     string          `env:"SLACK_CHANNEL" flag:"slack-channel" usage:"post the draft's link into the incident's Slack thread in this channel (empty: do not post)"`
	SlackTokenEnv    config.EnvName  `env:"SLACK_TOKEN_ENV, default=SLACK_ACCESS_TOKEN" flag:"slack-token-env" usage:"name of the env var holding the Slack bot token"`
	ImportSettings
	Reminder    string `env:"REMINDER, default=3d" flag:"reminder" form:"a delay after the first bad signal such as 3d, 36h or 90m (at most 120d), or false" usage:"with slack_channel, schedule the post-mortem meeting reminder in Slack this long after the incident's first bad signal (once: a rerun finds it scheduled)"`
	ImpactStart string `env:"IMPACT_START" flag:"impact-start" form:"a time such as 2026-11-20T14:12:00Z, 2026-11-20 14:12 or 14:12 (in incident.yml's date and timezone)" usage:"the first bad signal, when no timeline entry marks it (over incident.yml's impact.start)"`
	ImpactEnd   string `env:"IMPACT_END" flag:"impact-end" form:"a time such as 2026-11-20T14:30:00Z, 2026-11-20 14:30 or 14:30 (in incident.yml's date and timezone)" usage:"when service was restored, when no timeline entry marks it (over incident.yml's impact.end)"`
}

// New reads and checks the settings of pmguard postmortem and builds its
// dependencies: the CircleCI client when there is a token, the event log,
// the Slack poster when a channel is set. Every secret a setting names is
// in d.Redactor before anything is printed.
func New(ctx context.Context, d *verb.Deps, args []string) (*Options, error) {
	o := &Options{d: d, Now: d.Now, Stdout: d.Stdout, Stderr: d.Stderr}
	set, err := d.Load(ctx, "postmortem", args, &o.Settings)
	if err != nil {
		return nil, err
	}
	s := &o.Settings
	// CircleCI pipeline ids are UUIDs; anything else would only earn a 404.
	for _, f := range []*string{&s.FailedPipeline, &s.RollbackPipeline} {
		if *f != "" && !uuidRe.MatchString(*f) {
			return nil, set.Invalid(f, *f, "not a pipeline id", "a pipeline id (a UUID such as 5034460f-c7c4-4c43-9457-de07e2029e7b, CircleCI's pipeline.id)")
		}
	}
	if o.FollowUp, err = parseFollowUp(s.FollowUp, d.Now()); err != nil {
		return nil, set.Invalid(&s.FollowUp, s.FollowUp, err.Error(), "")
	}
	if o.ReminderDelay, err = notify.ParseReminder(s.Reminder); err != nil {
		return nil, set.Invalid(&s.Reminder, s.Reminder, err.Error(), "")
	}
	for _, f := range []*string{&s.ImpactStart, &s.ImpactEnd} {
		if *f != "" && !stampShape(*f) {
			return nil, set.Invalid(f, *f, "not a time", "")
		}
	}
	o.ImpactStart, o.ImpactEnd = s.ImpactStart, s.ImpactEnd
	if o.CircleCI, err = o.circleCI(set); err != nil {
		return nil, err
	}
	if o.Log, err = d.Events(s.EventsFile); err != nil {
		return nil, err
	}
	if o.Import, err = o.importers(set); err != nil {
		return nil, err
	}
	o.FailedPipeline, o.RollbackPipeline, o.CurrentPipeline = s.FailedPipeline, s.RollbackPipeline, d.Job.PipelineID
	o.EventFiles = o.eventFiles()
	o.IncidentFile, o.IncidentOptional = s.IncidentFile, s.IncidentFile == "incident.yml"
	// A file named that is not there is bad input naming its setting,
	// before any request.
	for _, p := range s.EventLogs {
		if _, err := os.Stat(p); err != nil {
			return nil, set.Unreadable(&s.EventLogs, p, err, "an event log file, or a directory of *.jsonl files")
		}
	}
	if _, err := os.Stat(s.IncidentFile); err != nil && s.IncidentFile != "" && !(o.IncidentOptional && errors.Is(err, os.ErrNotExist)) {
		return nil, set.Unreadable(&s.IncidentFile, s.IncidentFile, err, "the path of the team's incident.yml (optional only at its default path, incident.yml)")
	}
	// The impact times are placed in incident.yml's date and timezone:
	// one it cannot place is bad input now, not after the requests.
	if o.ImpactStart != "" || o.ImpactEnd != "" {
		var inc *Incident
		if _, err := os.Stat(s.IncidentFile); err == nil {
			if inc, err = LoadIncident(s.IncidentFile); err != nil {
				return nil, err
			}
		}
		if _, _, bad := o.resolveImpact(inc); bad != nil {
			f := map[string]*string{"impact_start": &s.ImpactStart, "impact_end": &s.ImpactEnd}[bad.name]
			return nil, set.Invalid(f, bad.raw, bad.cause, bad.form)
		}
	}
	o.OutDir, o.Title, o.Link = s.OutputDir, s.Title, d.Job.BuildURL
	if u := s.Link.URL; u != nil && u.Host != "" {
		o.Link = u.String()
	}
	if s.SlackChannel != "" {
		p := notify.NewPoster(d, o.Log)
		o.Notify = o.slackNotice(p)
		o.Schedule = func(ctx context.Context, r notify.Reminder) error {
			r.Channel, r.TokenEnv = s.SlackChannel, s.SlackTokenEnv
			return p.Schedule(ctx, r)
		}
	}
	return o, nil
}

// circleCI builds the CircleCI client; without a token the draft comes
// from the event logs and incident.yml, unless pipelines were named.
func (o *Options) circleCI(set *config.Set) (*circleci.Client, error) {
	s, d := &o.Settings, o.d
	token := strings.TrimSpace(d.Getenv(string(s.TokenEnv)))
	if token == "" {
		if s.FailedPipeline != "" || s.RollbackPipeline != "" {
			return nil, set.EmptyEnv(&s.TokenEnv, ", and pipelines can only be read with a CircleCI token", "")
		}
		fmt.Fprintf(d.Stderr, "pmguard postmortem: $%s is empty: CircleCI is not queried\n", s.TokenEnv)
		return nil, nil
	}
	c, err := circleci.New(circleci.Options{Host: s.Host.String(), Token: token, TokenEnv: string(s.TokenEnv), HTTP: d.HTTP(httpx.Options{})})
	if err != nil {
		return nil, set.Invalid(&s.Host, s.Host.String(), err.Error(), "")
	}
	return c, nil
}

// eventFiles are the logs to read: event_logs, else this job's event log
// when it exists.
func (o *Options) eventFiles() []string {
	if logs := o.Settings.EventLogs; len(logs) > 0 {
		return logs
	}
	if f := o.Settings.EventsFile; f != "" {
		if _, err := os.Stat(f); err == nil {
			return []string{f}
		}
	}
	return nil
}

// slackNotice posts the draft's link into the incident's thread: notify
// finds the thread among the events read (the artifacts' `notified` events
// included) and records its own events in this job's log.
func (o *Options) slackNotice(p *notify.Poster) func(context.Context, Notice) error {
	return func(ctx context.Context, n Notice) error {
		// Plain text, written from the draft: a job template would show
		// placeholders outside CI.
		return p.Post(ctx, notify.Notice{
			Channel: o.Settings.SlackChannel, TokenEnv: o.Settings.SlackTokenEnv, Text: n.Text,
			Thread: true, IncidentKey: n.IncidentKey, PostmortemURL: n.Link, Events: n.Events,
		})
	}
}

// stampShape says whether v is a time incident.yml accepts (resolved
// against its date and timezone once it is read).
func stampShape(v string) bool {
	_, err := (&Incident{Date: "2000-01-01", loc: time.UTC}).resolve(strings.TrimSpace(v))
	return err == nil
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// parseFollowUp reads a date ("2026-11-27") or a span from now in
// config.Days' form ("5d", "2w").
func parseFollowUp(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	d, err := config.ParseDays(v)
	if err != nil {
		return time.Time{}, fmt.Errorf("neither a date nor a number of days")
	}
	return now.Add(d), nil
}
