package main

import (
	"context"
	"os"
	"strconv"
	"strings"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/migrations"
)

// migrationSettings are the settings of pmguard migrations.
type migrationSettings struct {
	Migrations      config.List     `env:"MIGRATIONS, default=db/migrations/**/*.sql" flag:"migrations" usage:"globs of migration files (** matches any directories)"`
	Base            string          `env:"BASE, default=deployed" flag:"base" usage:"the deployed code: \"deployed\" (the commit of the newest deploy event) or a git revision such as origin/main"`
	Head            string          `env:"HEAD, default=HEAD" flag:"head" usage:"the revision to deploy"`
	Repo            string          `env:"REPO, default=." flag:"repo" usage:"the git repository"`
	DeployedLog     config.List     `env:"DEPLOYED_LOG" flag:"deployed-log" usage:"event logs (files or directories of *.jsonl) to find the deployed commit in; default: the events file"`
	DeployEvents    config.List     `env:"DEPLOY_EVENTS" flag:"deploy-events" usage:"events whose commit counts as deployed (default: health_passed and canary_passed)"`
	Code            config.List     `env:"CODE, default=." flag:"code" usage:"paths or globs of the deployed code to search for dropped or renamed names"`
	CodeExclude     config.List     `env:"CODE_EXCLUDE" flag:"code-exclude" usage:"globs left out of the code search (default: tests, vendored code, docs, schema dumps)"`
	PostgresVersion config.Count    `env:"POSTGRES_VERSION, default=13" flag:"postgres-version" usage:"major version of the production PostgreSQL"`
	WarnRules       config.List     `env:"WARN_RULES" flag:"warn-rules" usage:"rule ids reported as warnings only"`
	IgnoreRules     config.List     `env:"IGNORE_RULES" flag:"ignore-rules" usage:"rule ids not checked"`
	DatabaseURLEnv  config.EnvName  `env:"DATABASE_URL_ENV" flag:"database-url-env" usage:"name of the env var holding a PostgreSQL URL; enables the real-database mode"`
	CompatQueries   config.File     `env:"COMPAT_QUERIES" flag:"compat-queries" usage:"file of the deployed code's queries, run against the migrated throwaway database"`
	Timeout         config.Duration `env:"TIMEOUT, default=5m" flag:"timeout" usage:"time allowed for the real-database mode"`
	config.Shared
	config.Reports
}

func (a *app) migrations(ctx context.Context, args []string) error {
	var s migrationSettings
	set, err := a.load(ctx, "migrations", args, &s)
	if err != nil {
		return err
	}
	if len(s.Migrations) == 0 {
		return set.Invalid("Migrations", "", "no glob given", "globs such as db/migrations/**/*.sql")
	}
	for _, id := range s.WarnRules {
		if !migrations.KnownRule(id) {
			return set.Invalid("WarnRules", id, "unknown rule", "rule ids: "+migrations.RuleIDs())
		}
	}
	for _, id := range s.IgnoreRules {
		if !migrations.KnownRule(id) {
			return set.Invalid("IgnoreRules", id, "unknown rule", "rule ids: "+migrations.RuleIDs())
		}
	}
	if s.PostgresVersion < 9 || s.PostgresVersion > 99 {
		return set.Invalid("PostgresVersion", strconv.Itoa(int(s.PostgresVersion)), "out of range", "a PostgreSQL major version such as 13 or 16")
	}
	if st, err := os.Stat(s.Repo); err != nil || !st.IsDir() {
		return set.Invalid("Repo", s.Repo, "not a directory", "the path of a git work tree")
	}
	dbURL := ""
	if s.DatabaseURLEnv != "" {
		dbURL = config.Get(a.env, string(s.DatabaseURLEnv))
		if dbURL == "" {
			return set.Invalid("DatabaseURLEnv", string(s.DatabaseURLEnv), "that env var is empty or unset", "the name of an env var holding a postgres:// URL")
		}
	}
	compatText := ""
	if s.CompatQueries != "" {
		if dbURL == "" {
			return set.Invalid("CompatQueries", string(s.CompatQueries), "needs the real-database mode", "set database_url_env too")
		}
		b, err := os.ReadFile(string(s.CompatQueries))
		if err != nil {
			return set.Invalid("CompatQueries", string(s.CompatQueries), err.Error(), "")
		}
		compatText = string(b)
	}
	deployedLog := []string(s.DeployedLog)
	if len(deployedLog) == 0 && s.EventsFile != "" {
		deployedLog = []string{s.EventsFile}
	}
	exclude := []string(s.CodeExclude)
	if len(exclude) == 0 {
		exclude = migrations.DefaultCodeExclude
	}
	log, err := a.openEvents(s.EventsFile)
	if err != nil {
		return err
	}
	opts := migrations.Options{
		Git:               migrations.ExecGit{Dir: s.Repo},
		Migrations:        s.Migrations,
		Base:              strings.TrimSpace(s.Base),
		Head:              strings.TrimSpace(s.Head),
		DeployedLog:       deployedLog,
		DeployEvents:      s.DeployEvents,
		Code:              s.Code,
		CodeExclude:       exclude,
		PostgresVersion:   int(s.PostgresVersion),
		WarnRules:         s.WarnRules,
		IgnoreRules:       s.IgnoreRules,
		DatabaseURL:       dbURL,
		DatabaseURLEnv:    string(s.DatabaseURLEnv),
		CompatQueries:     string(s.CompatQueries),
		CompatQueriesText: compatText,
		Timeout:           s.Timeout.Duration,
		JSONPath:          s.JSON,
		JUnitPath:         s.JUnit,
		Events:            log,
		Stdout:            a.stdout,
		Stderr:            a.stderr,
	}
	if err := opts.Validate(); err != nil && exitcode.Of(err) == exitcode.BadInput {
		return err
	}
	return migrations.Run(ctx, opts)
}
