package migrations

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/verb"
)

// Settings are the settings of pmguard migrations.
type Settings struct {
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
	CacheDir        string          `env:"PMGUARD_CACHE_DIR" flag:"cache-dir" usage:"directory for the WebAssembly parser's compiled code, kept across runs (default: the user cache directory's pmguard; ignored by builds with the cgo parser; unwritable: no cache)"`
	config.Shared
	config.Reports
}

// The PostgreSQL major versions the rules know (9 is any 9.x).
const minPostgres, maxPostgres = 9, 18

// New reads and checks the settings of pmguard migrations: globs, rule ids,
// the PostgreSQL version, the database URL and the base and head revisions
// (resolved in the repository, and the deployed commit found in the event
// log), all before any migration is read.
func New(ctx context.Context, d *verb.Deps, args []string) (*Options, error) {
	var s Settings
	set, err := d.Load(ctx, "migrations", args, &s)
	if err != nil {
		return nil, err
	}
	if err := s.check(set); err != nil {
		return nil, err
	}
	o := &Options{
		Git: ExecGit{Dir: s.Repo}, Migrations: s.Migrations, Base: strings.TrimSpace(s.Base), Head: strings.TrimSpace(s.Head),
		DeployedLog: s.DeployedLog, DeployEvents: s.DeployEvents, Code: s.Code, CodeExclude: s.CodeExclude,
		PostgresVersion: int(s.PostgresVersion), WarnRules: s.WarnRules, IgnoreRules: s.IgnoreRules,
		DatabaseURLEnv: string(s.DatabaseURLEnv), CompatQueries: string(s.CompatQueries), Timeout: s.Timeout.Duration,
		JSONPath: s.JSON, JUnitPath: s.JUnit, Stdout: d.Stdout, Stderr: d.Stderr, Now: d.Now,
	}
	if len(o.DeployedLog) == 0 && s.EventsFile != "" {
		o.DeployedLog = []string{s.EventsFile}
	}
	if len(o.CodeExclude) == 0 {
		o.CodeExclude = DefaultCodeExclude
	}
	o.CacheDir = s.cacheDir()
	if err := s.database(set, d, o); err != nil {
		return nil, err
	}
	o.defaults()
	if o.revs, err = o.revisions(ctx); err != nil {
		return nil, s.revisionError(set, err)
	}
	if o.Events, err = d.Events(s.EventsFile); err != nil {
		return nil, err
	}
	return o, nil
}

// check validates what needs neither git nor the environment.
func (s *Settings) check(set *config.Set) error {
	if len(s.Migrations) == 0 {
		return set.Required(&s.Migrations, "no glob given", "globs such as db/migrations/**/*.sql")
	}
	for _, l := range []*config.List{&s.Migrations, &s.Code, &s.CodeExclude} {
		for _, g := range *l {
			if !ValidGlob(g) {
				return set.Invalid(l, g, "not a valid glob", "")
			}
		}
	}
	for _, l := range []*config.List{&s.WarnRules, &s.IgnoreRules} {
		for _, id := range *l {
			if _, ok := ruleByID(id); !ok {
				return set.Invalid(l, id, "unknown rule", "rule ids: "+ruleIDs())
			}
		}
	}
	if v := int(s.PostgresVersion); v < minPostgres || v > maxPostgres {
		return set.Invalid(&s.PostgresVersion, strconv.Itoa(v), "not a PostgreSQL major version the rules know",
			fmt.Sprintf("a major version from %d (any 9.x) to %d, such as 13 or 16", minPostgres, maxPostgres))
	}
	if st, err := os.Stat(s.Repo); err != nil || !st.IsDir() {
		return set.Invalid(&s.Repo, s.Repo, "not a directory", "the path of a git work tree")
	}
	return nil
}

// cacheDir is the parser's cache directory: the setting, or pmguard's in
// the user cache directory (os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache on
// Linux, ~/Library/Caches on macOS); "" when there is none.
func (s *Settings) cacheDir() string { return CacheDir(s.CacheDir) }

// CacheDir is where the WebAssembly parser keeps its compiled code: dir
// (the cache_dir setting) when set, else the user cache directory's
// pmguard, else nowhere ("").
func CacheDir(dir string) string {
	if dir = strings.TrimSpace(dir); dir != "" {
		return dir
	}
	if dir, err := os.UserCacheDir(); err == nil {
		return filepath.Join(dir, "pmguard")
	}
	return ""
}

// database reads the real-database mode's URL and compat queries into o.
func (s *Settings) database(set *config.Set, d *verb.Deps, o *Options) error {
	if s.DatabaseURLEnv != "" {
		o.DatabaseURL = d.Getenv(string(s.DatabaseURLEnv))
		if o.DatabaseURL == "" {
			return set.Invalid(&s.DatabaseURLEnv, string(s.DatabaseURLEnv), "that env var is empty or unset", "the name of an env var holding a postgres:// URL")
		}
		if _, err := pgx.ParseConfig(o.DatabaseURL); err != nil {
			return set.Invalid(&s.DatabaseURLEnv, string(s.DatabaseURLEnv), "the URL in $"+string(s.DatabaseURLEnv)+" cannot be used: "+o.redactor().Redact(err.Error()), "")
		}
		d.Redactor.Add(dbSecrets(o.DatabaseURL)...)
	}
	if s.CompatQueries == "" {
		return nil
	}
	if o.DatabaseURL == "" {
		return set.Invalid(&s.CompatQueries, string(s.CompatQueries), "compat_queries needs a database", "set database_url_env too")
	}
	b, err := os.ReadFile(string(s.CompatQueries))
	if err != nil {
		return set.Invalid(&s.CompatQueries, string(s.CompatQueries), err.Error(), "")
	}
	o.CompatQueriesText = string(b)
	return nil
}

// revisionError names the setting a revision error is about: head, or the
// base (deployed commits come from the event log the base points to).
func (s *Settings) revisionError(set *config.Set, err error) error {
	var re *revError
	if !errors.As(err, &re) {
		return err
	}
	if re.which == "repo" {
		dir := s.Repo
		if abs, err := filepath.Abs(dir); err == nil {
			dir = abs
		}
		return set.Invalid(&s.Repo, s.Repo, dir+" is "+re.err.Error(), "the path of a git work tree (a clone's directory or one inside it)")
	}
	if re.which == "head" {
		return set.Invalid(&s.Head, s.Head, re.err.Error(), "a git revision such as HEAD")
	}
	return set.Invalid(&s.Base, s.Base, re.err.Error(), fmt.Sprintf("%q (the commit of the newest deploy event) or a git revision such as origin/main", BaseDeployed))
}
