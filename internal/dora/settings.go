package dora

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pmguard/pmguard/internal/circleci"
	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/verb"
)

const (
	maxMonths = 36
	maxWindow = 366 * 24 * time.Hour
)

// Settings are the settings of pmguard dora.
type Settings struct {
	config.Shared
	DeployWorkflow config.List     `env:"DEPLOY_WORKFLOW, default=deploy" flag:"deploy-workflow" usage:"the deploy workflow's name or glob (comma-separated for several, e.g. deploy-*)"`
	Branch         string          `env:"BRANCH, default=$CIRCLE_BRANCH" flag:"branch" usage:"the production branch (default: $CIRCLE_BRANCH; empty: every branch)"`
	Window         config.Days     `env:"WINDOW, default=30d" flag:"window" usage:"how far back to look"`
	ProjectSlug    string          `env:"PROJECT_SLUG" flag:"project-slug" usage:"vcs/org/repo, e.g. gh/acme/shop (default: this job's project)"`
	GitDir         string          `env:"GIT_DIR, default=." flag:"git-dir" usage:"a clone with the deployed commits, for commit times (change lead time)"`
	EventLogs      config.Lines    `env:"EVENT_LOGS" flag:"event-log" usage:"event log files or directories with pmguard's rollback and guard events (repeatable)"`
	JSON           string          `env:"JSON" orb:"json_path" flag:"json" check:"writable" usage:"write the metrics as JSON to this file"`
	OutputDir      string          `env:"OUTPUT_DIR, default=dora" flag:"output-dir" usage:"where dora.md and dora.html are written"`
	Deadline       config.Duration `env:"DEADLINE, default=30m" flag:"deadline" usage:"overall cap for the whole run: no request, retry or Retry-After wait goes past it; a server asking to wait longer than what is left fails the run at once (0: none)"`
	Concurrency    config.Count    `env:"CONCURRENCY, default=16" flag:"concurrency" usage:"CircleCI API requests in flight at once"`
	MaxRPS         config.Count    `env:"MAX_RPS, default=0" flag:"max-rps" usage:"at most this many CircleCI API requests a second (0: no cap; a 429 always pauses every request for its Retry-After)"`
	TokenEnv       config.EnvName  `env:"TOKEN_ENV, default=CIRCLE_TOKEN" flag:"token-env" usage:"name of the env var holding the CircleCI API token"`
	Host           config.BaseURL  `env:"PMGUARD_CIRCLECI_HOST, default=https://circleci.com" flag:"circleci-host" usage:"CircleCI host (CircleCI server installs)"`
	Store          string          `env:"STORE, default=dora.db" flag:"store" check:"writable" usage:"the SQLite file the history is kept in (created when missing; keep it between runs with save_cache/restore_cache or as an artifact)"`
	DatabaseURLEnv config.EnvName  `env:"DATABASE_URL_ENV" flag:"database-url-env" usage:"name of the env var holding a PostgreSQL URL: keep the history there instead of the SQLite file (one store shared by an organisation)"`
	SyncOverlap    config.Days     `env:"SYNC_OVERLAP, default=1d" flag:"sync-overlap" usage:"how far before the last sync each sync reads again, for workflows that finished late"`
	Months         config.Count    `env:"MONTHS, default=6" flag:"months" usage:"calendar months of the monthly series and trend (the first sync reads back that far)"`
	Targets        string          `env:"TARGETS" flag:"targets" usage:"the team's goals, e.g. 'deploy_frequency: 10/day, lead_time: 1h, recovery_time: 15m, change_fail_rate: 5%'"`
	OrgSlug        string          `env:"ORG_SLUG" flag:"org-slug" usage:"vcs/org (gh/acme, or circleci/<org id>): every project the organisation's pipeline list shows (its 250 most recently built that the token follows)"`
	Projects       config.List     `env:"PROJECTS" flag:"project" usage:"projects to report on, vcs/org/repo (comma-separated or repeated); with org_slug, added to the ones it finds"`
	ProjectsFile   string          `env:"PROJECTS_FILE" flag:"projects-file" usage:"YAML file of per-project rules: deploy_workflow, branch, team, git_dir (see docs/dora.md)"`
	SlackChannel   string          `env:"SLACK_CHANNEL" flag:"slack-channel" usage:"post a summary to this Slack channel (empty: do not post)"`
	SlackTokenEnv  config.EnvName  `env:"SLACK_TOKEN_ENV, default=SLACK_ACCESS_TOKEN" flag:"slack-token-env" usage:"name of the env var holding the Slack bot token"`
}

// New reads and checks the settings of pmguard dora and builds its CircleCI
// client; every bad setting is reported here, before any request.
func New(ctx context.Context, d *verb.Deps, args []string) (*Options, error) {
	var s Settings
	set, err := d.Load(ctx, "dora", args, &s)
	if err != nil {
		return nil, err
	}
	slug, err := s.check(set, d)
	if err != nil {
		return nil, err
	}
	token := strings.TrimSpace(d.Getenv(string(s.TokenEnv)))
	hc := d.HTTP(httpx.Options{RPS: float64(s.MaxRPS), Log: func(msg string) { fmt.Fprintf(d.Stderr, "pmguard dora: %s\n", msg) }})
	client, err := circleci.New(circleci.Options{Host: s.Host.String(), Token: token, TokenEnv: string(s.TokenEnv), HTTP: hc})
	if err != nil {
		return nil, set.Invalid(&s.Host, s.Host.String(), err.Error(), "")
	}
	log, err := d.Events(s.EventsFile)
	if err != nil {
		return nil, err
	}
	o := &Options{
		Settings: s, Project: slug, Branch: s.Branch, Workflows: s.DeployWorkflow, Window: s.Window.Duration,
		GitDir: s.GitDir, EventFile: s.EventLogs, JSON: s.JSON, Concurrency: int(s.Concurrency),
		CircleCI: client, Log: log, Now: d.Now, Stdout: d.Stdout, Stderr: d.Stderr, Redactor: d.Redactor,
		Summary: func(ctx context.Context, wf string) (*CIRecovery, error) {
			return insightsSummary(ctx, client, slug, wf, s.Branch)
		},
	}
	if s.OutputDir != "" {
		o.Markdown, o.HTML = reportPaths(s.OutputDir)
	}
	o.Targets, _ = ParseTargets(s.Targets)
	o.Months, o.Overlap, o.Org, o.ProjectList, o.StorePath = int(s.Months), s.SyncOverlap.Duration, s.OrgSlug, s.Projects, s.Store
	if s.DatabaseURLEnv != "" {
		o.DatabaseURL = strings.TrimSpace(d.Getenv(string(s.DatabaseURLEnv)))
	}
	if s.ProjectsFile != "" {
		o.Rules, _ = ReadRules(s.ProjectsFile)
	}
	return o, nil
}

// check validates the settings and returns the project slug (this job's
// project when none is given; "" in organisation scope).
func (s *Settings) check(set *config.Set, d *verb.Deps) (string, error) {
	if s.Window.Duration <= 0 {
		return "", set.Invalid(&s.Window, s.Window.String(), "must be more than 0", "")
	}
	multi := s.OrgSlug != "" || len(s.Projects) > 0 || s.ProjectsFile != ""
	slug := s.ProjectSlug
	if slug == "" {
		slug = d.Job.ProjectSlug()
	}
	if slug == "" && !multi {
		return "", set.Invalid(&s.ProjectSlug, "", "no project slug given and none in the job environment", "vcs/org/repo such as gh/acme/shop or circleci/<org-id>/<project-id>")
	}
	if slug != "" && strings.Count(slug, "/") != 2 {
		return "", set.Invalid(&s.ProjectSlug, slug, "not vcs/org/repo", "vcs/org/repo such as gh/acme/shop")
	}
	if s.OrgSlug != "" && strings.Count(s.OrgSlug, "/") != 1 {
		return "", set.Invalid(&s.OrgSlug, s.OrgSlug, "not vcs/org", "vcs/org such as gh/acme or circleci/<org-id>")
	}
	for _, w := range s.DeployWorkflow {
		if !validWorkflowGlob(w) {
			return "", set.Invalid(&s.DeployWorkflow, w, "not a valid glob (a [ without its ], or a trailing \\)", "workflow names or globs such as deploy-*, comma-separated")
		}
	}
	for _, p := range s.Projects {
		if strings.Count(p, "/") != 2 {
			return "", set.Invalid(&s.Projects, p, "not vcs/org/repo", "vcs/org/repo such as gh/acme/shop")
		}
	}
	if s.Concurrency < 1 {
		return "", set.Invalid(&s.Concurrency, strconv.Itoa(int(s.Concurrency)), "must be at least 1", "a whole number, 1 or more")
	}
	// Bounds past any DORA report's reach, so a typo (100000d, 1000
	// months) does not start a sync of every pipeline the project ever ran.
	if s.Months < 1 || s.Months > maxMonths {
		return "", set.Invalid(&s.Months, strconv.Itoa(int(s.Months)), "out of range", fmt.Sprintf("a whole number from 1 to %d", maxMonths))
	}
	if d := s.Window.Duration; d <= 0 || d > maxWindow {
		return "", set.Invalid(&s.Window, s.Window.String(), "out of range", fmt.Sprintf("a number of days from 1d to %dd, such as 30d or 4w", int(maxWindow.Hours()/24)))
	}
	if s.SyncOverlap.Duration < 0 {
		return "", set.Invalid(&s.SyncOverlap, s.SyncOverlap.String(), "must not be negative", "")
	}
	if _, err := ParseTargets(s.Targets); err != nil {
		return "", set.Invalid(&s.Targets, s.Targets, err.Error(), TargetsForm)
	}
	if s.ProjectsFile != "" {
		if _, err := ReadRules(s.ProjectsFile); err != nil {
			return "", set.Invalid(&s.ProjectsFile, s.ProjectsFile, err.Error(), "a YAML file with defaults: and projects: (see docs/dora.md)")
		}
	}
	if s.DatabaseURLEnv != "" && strings.TrimSpace(d.Getenv(string(s.DatabaseURLEnv))) == "" {
		return "", set.EmptyEnv(&s.DatabaseURLEnv, "", "the name of an env var holding postgres://user:password@host/db")
	}
	if s.GitDir != "" {
		if st, err := os.Stat(s.GitDir); err != nil || !st.IsDir() {
			return "", set.Invalid(&s.GitDir, s.GitDir, "not a directory", "the directory of a git clone holding the deployed commits, such as .")
		}
	}
	for _, p := range s.EventLogs {
		if _, err := os.Stat(p); err != nil {
			return "", set.Unreadable(&s.EventLogs, p, err, "an event log file, or a directory of *.jsonl files")
		}
	}
	if strings.TrimSpace(d.Getenv(string(s.TokenEnv))) == "" {
		return "", set.EmptyEnv(&s.TokenEnv, "; reading the pipeline history needs a CircleCI API token", "")
	}
	return slug, nil
}
