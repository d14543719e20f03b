package followups

import (
	"context"
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/github"
	"github.com/pmguard/pmguard/internal/httpx"
	"github.com/pmguard/pmguard/internal/notify"
	"github.com/pmguard/pmguard/internal/postmortem"
	"github.com/pmguard/pmguard/internal/verb"
)

// Settings are the settings of pmguard followups.
type Settings struct {
	config.Shared
	Mode           string          `env:"MODE, default=sync" flag:"mode" form:"sync, report or both" usage:"sync: create or update each action item's issue and write the links into the post-mortem; report: post overdue and soon-due items to Slack; both"`
	IncidentFile   string          `env:"INCIDENT_FILE, default=incident.yml" flag:"incident-file" usage:"the incident.yml whose action_items are the follow-ups"`
	IncidentKey    string          `env:"INCIDENT_KEY" flag:"incident-key" usage:"what tells this incident's issues from another's (default: incident.yml's title and date)"`
	Tracker        string          `env:"TRACKER, default=github" flag:"tracker" form:"github or jira" usage:"where follow-ups are tracked"`
	GitHubRepo     string          `env:"GITHUB_REPO" flag:"github-repo" form:"owner/name" usage:"the repository the issues go to (default: this project, $CIRCLE_PROJECT_USERNAME/$CIRCLE_PROJECT_REPONAME)"`
	GitHubTokenEnv config.EnvName  `env:"GITHUB_TOKEN_ENV, default=GITHUB_TOKEN" flag:"github-token-env" usage:"name of the env var holding a GitHub token with issues: read and write"`
	GitHubAPIURL   config.BaseURL  `env:"GITHUB_API_URL, default=https://api.github.com" flag:"github-api-url" usage:"GitHub API URL (GitHub Enterprise Server: https://HOST/api/v3)"`
	JiraURL        config.BaseURL  `env:"JIRA_URL" flag:"jira-url" usage:"the Jira Cloud site, such as https://acme.atlassian.net"`
	JiraProject    string          `env:"JIRA_PROJECT" flag:"jira-project" form:"a project key such as OPS" usage:"the Jira project the issues go to"`
	JiraIssueType  string          `env:"JIRA_ISSUE_TYPE, default=Task" flag:"jira-issue-type" usage:"the Jira issue type"`
	JiraEmailEnv   config.EnvName  `env:"JIRA_EMAIL_ENV, default=JIRA_EMAIL" flag:"jira-email-env" usage:"name of the env var holding the Jira account's email"`
	JiraTokenEnv   config.EnvName  `env:"JIRA_TOKEN_ENV, default=JIRA_API_TOKEN" flag:"jira-token-env" usage:"name of the env var holding the Jira API token"`
	Label          string          `env:"LABEL, default=postmortem-follow-up" flag:"label" usage:"the label every follow-up issue carries, and by which reruns find them"`
	Labels         config.List     `env:"LABELS" flag:"labels" usage:"more labels for every issue (the priority, P0-P2, is added as a label too)"`
	Owners         config.Lines    `env:"OWNERS" flag:"owner" form:"HANDLE=LOGIN, such as @platform-team=octocat (a Jira account id for Jira)" usage:"the team's handle map: the owner an action item names -> the assignee (repeatable; unmapped owners are named in the body only)"`
	PostmortemDir  string          `env:"POSTMORTEM_DIR, default=postmortem" flag:"postmortem-dir" usage:"the post-mortem's directory: the links are written into its postmortem.md and postmortem.json, and into followups.json"`
	Link           config.URL      `env:"LINK" flag:"link" usage:"the post-mortem's address, put into each issue (default: this job's page, $CIRCLE_BUILD_URL)"`
	Deadline       config.Duration `env:"DEADLINE, default=10m" flag:"deadline" usage:"overall cap for the whole run: no request, retry or Retry-After wait goes past it; a server asking to wait longer than what is left fails the run at once (0: none)"`
	RemindBefore   config.Days     `env:"REMIND_BEFORE, default=2d" flag:"remind-before" usage:"report: remind owners this long before a deadline"`
	SlackChannel   string          `env:"SLACK_CHANNEL" flag:"slack-channel" usage:"report: the channel the overdue report goes to (empty: stdout only)"`
	SlackTokenEnv  config.EnvName  `env:"SLACK_TOKEN_ENV, default=SLACK_ACCESS_TOKEN" flag:"slack-token-env" usage:"name of the env var holding the Slack bot token"`
}

// Options are the inputs and dependencies of one run.
type Options struct {
	Settings Settings
	// Incident is incident.yml, read by New (nil: Run reads it).
	Incident *postmortem.Incident
	Sync     bool
	Report   bool
	Tracker  Tracker
	Owners   map[string]string
	Link     string
	// Post sends the report to Slack; nil prints it only.
	Post   func(ctx context.Context, text string) error
	Log    *events.Log
	Now    func() time.Time
	Stdout io.Writer
	Stderr io.Writer
	d      *verb.Deps
}

// New reads and checks the settings and builds the tracker's client.
func New(ctx context.Context, d *verb.Deps, args []string) (*Options, error) {
	o := &Options{d: d, Now: d.Now, Stdout: d.Stdout, Stderr: d.Stderr}
	set, err := d.Load(ctx, "followups", args, &o.Settings)
	if err != nil {
		return nil, err
	}
	s := &o.Settings
	switch strings.TrimSpace(s.Mode) {
	case "sync":
		o.Sync = true
	case "report":
		o.Report = true
	case "both":
		o.Sync, o.Report = true, true
	default:
		return nil, set.Invalid(&s.Mode, s.Mode, "not a mode", "")
	}
	if _, err := os.Stat(s.IncidentFile); err != nil {
		return nil, set.Unreadable(&s.IncidentFile, s.IncidentFile, err, "the path of the team's incident.yml, whose action_items are the follow-ups")
	}
	if o.Incident, err = postmortem.LoadIncident(s.IncidentFile); err != nil {
		return nil, err
	}
	o.Owners = map[string]string{}
	for _, l := range s.Owners {
		h, who, ok := strings.Cut(l, "=")
		if !ok || strings.TrimSpace(h) == "" || strings.TrimSpace(who) == "" {
			return nil, set.Invalid(&s.Owners, l, "not HANDLE=LOGIN", "")
		}
		o.Owners[strings.TrimSpace(h)] = strings.TrimSpace(who)
	}
	if err := checkLabels(set, s); err != nil {
		return nil, err
	}
	http := d.HTTP(httpx.Options{})
	switch strings.TrimSpace(s.Tracker) {
	case "github":
		repo := strings.TrimSpace(s.GitHubRepo)
		if repo == "" && d.Job.ProjectUsername != "" && d.Job.ProjectRepo != "" {
			repo = d.Job.ProjectUsername + "/" + d.Job.ProjectRepo
		}
		token := strings.TrimSpace(d.Getenv(string(s.GitHubTokenEnv)))
		if token == "" {
			return nil, set.EmptyEnv(&s.GitHubTokenEnv, "", "")
		}
		c, err := github.New(github.Options{BaseURL: s.GitHubAPIURL.String(), Token: token, Repo: repo, HTTP: http})
		if err != nil {
			return nil, set.Invalid(&s.GitHubRepo, repo, err.Error(), "")
		}
		o.Tracker = &githubTracker{c: c, label: s.Label, labels: s.Labels}
	case "jira":
		t, err := o.jira(set, http)
		if err != nil {
			return nil, err
		}
		o.Tracker = t
	default:
		return nil, set.Invalid(&s.Tracker, s.Tracker, "not a tracker", "")
	}
	o.Link = d.Job.BuildURL
	if s.Link.URL != nil {
		o.Link = s.Link.String()
	}
	if o.Log, err = d.Events(s.EventsFile); err != nil {
		return nil, err
	}
	if o.Report && s.SlackChannel != "" {
		p := notify.NewPoster(d, o.Log)
		o.Post = func(ctx context.Context, text string) error {
			return p.Post(ctx, notify.Notice{Channel: s.SlackChannel, TokenEnv: s.SlackTokenEnv, Text: text})
		}
	}
	return o, nil
}

// checkLabels rejects labels the tracker would not keep as given: reruns
// find the issues by label, so one GitHub's listing reads as two (a comma)
// or Jira refuses (a space) would create every issue again, or none.
func checkLabels(set *config.Set, s *Settings) error {
	jira := strings.TrimSpace(s.Tracker) == "jira"
	without := "without commas"
	if jira {
		without = "without spaces or commas (Jira)"
	}
	bad := func(l string) string {
		switch {
		case strings.TrimSpace(l) == "":
			return "empty"
		case strings.Contains(l, ","):
			return "holds a comma"
		case jira && strings.ContainsFunc(l, unicode.IsSpace):
			return "holds a space, which Jira labels cannot"
		}
		return ""
	}
	s.Label = strings.TrimSpace(s.Label)
	if why := bad(s.Label); why != "" {
		return set.Invalid(&s.Label, s.Label, why, "a label such as postmortem-follow-up, "+without)
	}
	for _, l := range s.Labels {
		if why := bad(l); why != "" {
			return set.Invalid(&s.Labels, l, why, "comma-separated labels such as team-checkout,sev2, each "+without)
		}
	}
	return nil
}
