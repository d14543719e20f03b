package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/dora"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/notify"
)

type doraSettings struct {
	config.Shared
	DeployWorkflow config.List    `env:"DEPLOY_WORKFLOW, default=deploy" flag:"deploy-workflow" usage:"the deploy workflow's name or glob (comma-separated for several, e.g. deploy-*)"`
	Branch         string         `env:"BRANCH, default=$CIRCLE_BRANCH" flag:"branch" usage:"the production branch (default: $CIRCLE_BRANCH; empty: every branch)"`
	Window         string         `env:"WINDOW, default=30d" flag:"window" form:"days or weeks such as 30d or 4w, or a Go duration such as 72h" usage:"how far back to look"`
	ProjectSlug    string         `env:"PROJECT_SLUG" flag:"project-slug" usage:"vcs/org/repo, e.g. gh/acme/shop (default: this job's project)"`
	GitDir         string         `env:"GIT_DIR, default=." flag:"git-dir" usage:"a clone with the deployed commits, for commit times (change lead time)"`
	EventLogs      config.Lines   `env:"EVENT_LOGS" flag:"event-log" usage:"event log files or directories with pmguard's rollback and guard events (repeatable)"`
	JSON           string         `env:"JSON" flag:"json" usage:"write the metrics as JSON to this file"`
	OutputDir      string         `env:"OUTPUT_DIR, default=dora" flag:"output-dir" usage:"where dora.md and dora.html are written"`
	Concurrency    config.Count   `env:"CONCURRENCY, default=16" flag:"concurrency" usage:"CircleCI API requests in flight at once"`
	MaxRPS         config.Count   `env:"MAX_RPS, default=0" flag:"max-rps" usage:"at most this many CircleCI API requests a second (0: no cap; a 429 always pauses every request for its Retry-After)"`
	TokenEnv       config.EnvName `env:"TOKEN_ENV, default=CIRCLE_TOKEN" flag:"token-env" usage:"name of the env var holding the CircleCI API token"`
	Host           config.URL     `env:"PMGUARD_CIRCLECI_HOST, default=https://circleci.com" flag:"circleci-host" usage:"CircleCI host (CircleCI server installs)"`
	SlackChannel   string         `env:"SLACK_CHANNEL" flag:"slack-channel" usage:"post a summary to this Slack channel (empty: do not post)"`
	SlackTokenEnv  config.EnvName `env:"SLACK_TOKEN_ENV, default=SLACK_ACCESS_TOKEN" flag:"slack-token-env" usage:"name of the env var holding the Slack bot token"`
}

func (a *app) dora(ctx context.Context, args []string) error {
	var s doraSettings
	set, err := a.load(ctx, "dora", args, &s)
	if err != nil {
		return err
	}
	window, err := parseWindow(s.Window)
	if err != nil {
		return set.Invalid("Window", s.Window, err.Error(), "")
	}
	slug := s.ProjectSlug
	if slug == "" {
		slug = jobenv.FromEnv(a.env).ProjectSlug()
	}
	if slug == "" {
		return set.Invalid("ProjectSlug", "", "no project slug given and none in the job environment", "vcs/org/repo such as gh/acme/shop or circleci/<org-id>/<project-id>")
	}
	if strings.Count(slug, "/") != 2 {
		return set.Invalid("ProjectSlug", slug, "not vcs/org/repo", "vcs/org/repo such as gh/acme/shop")
	}
	if s.Concurrency < 1 {
		return set.Invalid("Concurrency", strconv.Itoa(int(s.Concurrency)), "must be at least 1", "")
	}
	if s.GitDir != "" {
		if st, err := os.Stat(s.GitDir); err != nil || !st.IsDir() {
			return set.Invalid("GitDir", s.GitDir, "not a directory", "")
		}
	}
	token := strings.TrimSpace(config.Get(a.env, string(s.TokenEnv)))
	if token == "" {
		return set.Invalid("TokenEnv", string(s.TokenEnv), "$"+string(s.TokenEnv)+" is empty; reading the pipeline history needs a CircleCI API token", "")
	}
	throttle := &dora.Throttle{Next: httpx.NewTransport(nil), MaxRPS: float64(s.MaxRPS)}
	hc := a.httpClient(httpx.Options{Transport: throttle})
	client, err := circleci.New(circleci.Options{Host: s.Host.String(), Token: token, TokenEnv: string(s.TokenEnv), HTTP: hc})
	if err != nil {
		return err
	}
	log, err := a.openEvents(s.EventsFile)
	if err != nil {
		return err
	}
	log.Redact = hc.Redactor().Redact
	out := s.OutputDir
	o := dora.Options{
		Project: slug, Branch: s.Branch, Workflows: s.DeployWorkflow, Window: window, GitDir: s.GitDir,
		EventFile: s.EventLogs, JSON: s.JSON, Concurrency: int(s.Concurrency), CircleCI: client, Log: log,
		Stdout: a.stdout, Stderr: a.stderr,
		Summary: func(ctx context.Context, wf string) (*dora.CIRecovery, error) {
			return dora.InsightsSummary(ctx, hc, client.BaseURL(), token, slug, wf, s.Branch)
		},
	}
	if out != "" {
		o.Markdown, o.HTML = filepath.Join(out, "dora.md"), filepath.Join(out, "dora.html")
	}
	if s.SlackChannel != "" {
		o.Slack = func(ctx context.Context, text string) error { return a.doraNotice(ctx, s, text) }
	}
	_, err = dora.Run(ctx, o)
	return hc.Redactor().Error(err)
}

// parseWindow reads 30d, 4w or a Go duration.
func parseWindow(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	unit := time.Duration(0)
	switch {
	case strings.HasSuffix(v, "d"):
		unit = 24 * time.Hour
	case strings.HasSuffix(v, "w"):
		unit = 7 * 24 * time.Hour
	}
	if unit > 0 {
		n, err := strconv.Atoi(v[:len(v)-1])
		if err != nil || n < 1 {
			return 0, fmt.Errorf("not a number of days or weeks")
		}
		return time.Duration(n) * unit, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("not a window")
	}
	return d, nil
}

// doraNotice posts the summary with the notify verb as a custom message, the
// text inserted JSON-escaped through an env var.
func (a *app) doraNotice(ctx context.Context, s doraSettings, text string) error {
	msg := map[string]any{
		"text":   "${PMGUARD_DORA_SUMMARY_TEXT}",
		"blocks": []any{map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "${PMGUARD_DORA_SUMMARY_TEXT}"}}},
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	env := overlayEnv{under: a.env, over: map[string]string{
		"PMGUARD_NOTIFY_CHANNEL":    s.SlackChannel,
		"PMGUARD_NOTIFY_CUSTOM":     string(b),
		"PMGUARD_NOTIFY_EVENT":      "always",
		"PMGUARD_NOTIFY_THREAD":     "false",
		"PMGUARD_NOTIFY_TOKEN_ENV":  string(s.SlackTokenEnv),
		"PMGUARD_DORA_SUMMARY_TEXT": text,
	}}
	var ns notify.Settings
	set, _, err := config.Load(ctx, "notify", nil, env, &ns, io.Discard)
	if err != nil {
		return err
	}
	log, err := a.openEvents(s.EventsFile)
	if err != nil {
		return err
	}
	return notify.Run(ctx, notify.Options{Settings: ns, Set: set, Env: env, Job: jobenv.FromEnv(a.env), Events: log,
		Out: a.stdout, Err: a.stderr, Version: a.version})
}

func jsonLine(e events.Event) ([]byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
