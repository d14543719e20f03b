package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/notify"
	"github.com/pmguard/pmguard/internal/postmortem"
)

type postmortemSettings struct {
	config.Shared
	FailedPipeline   string         `env:"FAILED_PIPELINE" flag:"failed-pipeline" usage:"id of the pipeline whose deploy failed (default: from the event log's rollback_initiated, else $CIRCLE_PIPELINE_ID; a rollback pipeline leads to the one it rolled back)"`
	RollbackPipeline string         `env:"ROLLBACK_PIPELINE" flag:"rollback-pipeline" usage:"id of the rollback pipeline (default: from the event log, else the pipeline whose pmguard_rollback_of names the failed one)"`
	EventLogs        config.Lines   `env:"EVENT_LOGS" flag:"event-log" usage:"an event log file, or a directory of *.jsonl files, to read (repeatable; default: $PMGUARD_EVENTS_FILE when it exists)"`
	IncidentFile     string         `env:"INCIDENT_FILE, default=incident.yml" flag:"incident-file" usage:"the team's incident.yml: severity, timeline entries, 5 Whys, action items (optional at its default path)"`
	OutputDir        string         `env:"OUTPUT_DIR, default=postmortem" flag:"output-dir" usage:"where postmortem.md and postmortem.html are written"`
	TokenEnv         config.EnvName `env:"TOKEN_ENV, default=CIRCLE_TOKEN" flag:"token-env" usage:"name of the env var holding the CircleCI API token (without it, only the event logs and incident.yml are used)"`
	Host             config.URL     `env:"PMGUARD_CIRCLECI_HOST, default=https://circleci.com" flag:"circleci-host" usage:"CircleCI host (CircleCI server installs)"`
	Title            string         `env:"TITLE" flag:"title" usage:"the document's title (default: incident.yml's title, else the deploy's pipeline number)"`
	FollowUp         string         `env:"FOLLOW_UP" flag:"follow-up" form:"a date such as 2026-11-27, or days from now such as 5d" usage:"date of the post-mortem review (default: incident.yml's follow_up)"`
	Link             config.URL     `env:"LINK" flag:"link" usage:"where readers find the draft, posted to Slack (default: this job's page, $CIRCLE_BUILD_URL)"`
	SlackChannel     string         `env:"SLACK_CHANNEL" flag:"slack-channel" usage:"post the draft's link into the incident's Slack thread in this channel (empty: do not post)"`
	SlackTokenEnv    config.EnvName `env:"SLACK_TOKEN_ENV, default=SLACK_ACCESS_TOKEN" flag:"slack-token-env" usage:"name of the env var holding the Slack bot token"`
}

func (a *app) postmortem(ctx context.Context, args []string) error {
	var s postmortemSettings
	set, err := a.load(ctx, "postmortem", args, &s)
	if err != nil {
		return err
	}
	// CircleCI pipeline ids are UUIDs; anything else would only earn a 404.
	for field, v := range map[string]string{"FailedPipeline": s.FailedPipeline, "RollbackPipeline": s.RollbackPipeline} {
		if v != "" && !uuidRe.MatchString(v) {
			return set.Invalid(field, v, "not a pipeline id", "a pipeline id (a UUID such as 5034460f-c7c4-4c43-9457-de07e2029e7b, CircleCI's pipeline.id)")
		}
	}
	now := time.Now()
	followUp, err := parseFollowUp(s.FollowUp, now)
	if err != nil {
		return set.Invalid("FollowUp", s.FollowUp, err.Error(), "")
	}
	job := jobenv.FromEnv(a.env)
	logs := []string(s.EventLogs)
	if len(logs) == 0 && s.EventsFile != "" {
		if _, err := os.Stat(s.EventsFile); err == nil {
			logs = []string{s.EventsFile}
		}
	}
	hc := a.httpClient(httpx.Options{})
	var client *circleci.Client
	if token := strings.TrimSpace(config.Get(a.env, string(s.TokenEnv))); token != "" {
		client, err = circleci.New(circleci.Options{Host: s.Host.String(), Token: token, TokenEnv: string(s.TokenEnv), HTTP: hc})
		if err != nil {
			return err
		}
	} else if s.FailedPipeline != "" || s.RollbackPipeline != "" {
		return set.Invalid("TokenEnv", string(s.TokenEnv), "$"+string(s.TokenEnv)+" is empty, and pipelines can only be read with a CircleCI token", "")
	} else {
		fmt.Fprintf(a.stderr, "pmguard postmortem: $%s is empty: CircleCI is not queried\n", s.TokenEnv)
	}
	log, err := a.openEvents(s.EventsFile)
	if err != nil {
		return err
	}
	log.Redact = hc.Redactor().Redact
	link := job.BuildURL
	if s.Link.URL != nil {
		link = s.Link.String()
	}
	o := postmortem.Options{
		FailedPipeline: s.FailedPipeline, RollbackPipeline: s.RollbackPipeline, CurrentPipeline: job.PipelineID,
		EventFiles: logs, IncidentFile: s.IncidentFile, IncidentOptional: s.IncidentFile == "incident.yml",
		OutDir: s.OutputDir, Title: s.Title, FollowUp: followUp, Link: link,
		CircleCI: client, Log: log, Now: time.Now, Stdout: a.stdout, Stderr: a.stderr,
	}
	if s.SlackChannel != "" {
		o.Notify = func(ctx context.Context, n postmortem.Notice) error {
			return a.postmortemNotice(ctx, s, n, log)
		}
	}
	_, err = postmortem.Run(ctx, o)
	return hc.Redactor().Error(err)
}

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// parseFollowUp reads "2026-11-27" or "5d" (days from now).
func parseFollowUp(v string, now time.Time) (time.Time, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}, nil
	}
	if d, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(d)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("not a number of days")
		}
		return now.AddDate(0, 0, n), nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a date")
	}
	return t, nil
}

// postmortemNotice posts the draft's link with the notify verb, so Slack's
// limits, errors and the incident's thread are handled in one place. Notify
// finds the thread in its event log, so it gets a copy of every event read
// (the artifacts' `notified` events included); its own events are copied
// back into this job's log.
func (a *app) postmortemNotice(ctx context.Context, s postmortemSettings, n postmortem.Notice, log *events.Log) error {
	tmp, err := os.CreateTemp("", "pmguard-postmortem-notify-*.jsonl")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	for _, e := range n.Events {
		if err := writeEvent(tmp, e); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	overlay := map[string]string{
		"PMGUARD_NOTIFY_CHANNEL":      s.SlackChannel,
		"PMGUARD_NOTIFY_TEMPLATE":     notify.PostmortemReminder,
		"PMGUARD_NOTIFY_EVENT":        "always",
		"PMGUARD_NOTIFY_THREAD":       "true",
		"PMGUARD_NOTIFY_TOKEN_ENV":    string(s.SlackTokenEnv),
		"PMGUARD_NOTIFY_INCIDENT_KEY": n.IncidentKey,
		"PMGUARD_EVENTS_FILE":         tmp.Name(),
	}
	if strings.HasPrefix(n.Link, "https://") || strings.HasPrefix(n.Link, "http://") {
		overlay["PMGUARD_NOTIFY_POSTMORTEM_URL"] = n.Link
	}
	env := overlayEnv{over: overlay, under: a.env}
	var ns notify.Settings
	set, _, err := config.Load(ctx, "notify", nil, env, &ns, io.Discard)
	if err != nil {
		return err
	}
	nlog, err := events.Open(tmp.Name(), jobenv.FromEnv(a.env))
	if err != nil {
		return err
	}
	started := time.Now().Add(-time.Second)
	err = notify.Run(ctx, notify.Options{Settings: ns, Set: set, Env: env, Job: jobenv.FromEnv(a.env), Events: nlog,
		Out: a.stdout, Err: a.stderr, Version: a.version})
	if got, rerr := events.ReadFiles(tmp.Name()); rerr == nil {
		for _, e := range got {
			if e.Verb == "notify" && e.Time.After(started) {
				log.Append(e) //nolint:errcheck // best effort: the notice is sent
			}
		}
	}
	return err
}

func writeEvent(w io.Writer, e events.Event) error {
	b, err := jsonLine(e)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// overlayEnv answers from over first, then from the real environment.
type overlayEnv struct {
	over  map[string]string
	under config.Env
}

func (e overlayEnv) Lookup(key string) (string, bool) {
	if v, ok := e.over[key]; ok {
		return v, true
	}
	return e.under.Lookup(key)
}
