package migrations

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/config"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/jobenv"
	"github.com/pmguard/pmguard/internal/verb/verbtest"
)

// gitRepo is a repository built by a test in a temporary directory.
type gitRepo struct {
	t   *testing.T
	dir string
}

func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is required in CI: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
}

func newRepo(t *testing.T) *gitRepo {
	t.Helper()
	needTool(t, "git")
	r := &gitRepo{t: t, dir: t.TempDir()}
	r.git("init", "-q", "-b", "main")
	r.git("config", "user.email", "dev@example.com")
	r.git("config", "user.name", "dev")
	r.git("config", "commit.gpgsign", "false")
	return r
}

func (r *gitRepo) git(args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = r.dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		r.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

func (r *gitRepo) write(path, content string) {
	r.t.Helper()
	p := filepath.Join(r.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *gitRepo) commit(msg string) string {
	r.t.Helper()
	r.git("add", "-A")
	r.git("commit", "-q", "-m", msg)
	return r.git("rev-parse", "HEAD")
}

// check runs the check on the repository and returns its error and output.
type result struct {
	err    error
	out    string
	report Result
	junit  string
	events []events.Event
}

func runCheck(t *testing.T, r *gitRepo, mod func(*Options)) result {
	t.Helper()
	dir := t.TempDir()
	var out bytes.Buffer
	log, err := events.Open(filepath.Join(dir, "events.jsonl"), jobenv.Job{})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{
		Git:         ExecGit{Dir: r.dir},
		Migrations:  []string{"db/migrations/**/*.sql"},
		Base:        "main",
		CodeExclude: DefaultCodeExclude,
		JSONPath:    filepath.Join(dir, "report.json"),
		JUnitPath:   filepath.Join(dir, "junit.xml"),
		Events:      log,
		Stdout:      &out,
		Stderr:      &out,
		Now:         func() time.Time { return time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC) },
	}
	if mod != nil {
		mod(&o)
	}
	res := result{err: Run(context.Background(), &o), out: out.String()}
	if b, err := os.ReadFile(o.JSONPath); err == nil {
		if err := json.Unmarshal(b, &res.report); err != nil {
			t.Fatalf("JSON report: %v", err)
		}
	}
	if b, err := os.ReadFile(o.JUnitPath); err == nil {
		res.junit = string(b)
	}
	res.events, _, _ = events.ReadFiles(filepath.Join(dir, "events.jsonl"))
	return res
}

func (res result) finding(rule string) *Finding {
	for i := range res.report.Findings {
		if res.report.Findings[i].Rule == rule {
			return &res.report.Findings[i]
		}
	}
	return nil
}

const usersTable = "CREATE TABLE users (id bigserial PRIMARY KEY, email text NOT NULL, legacy_name text);\n"

// The reference incident: a migration drops a column that the code still
// deployed selects. The deploy event says which commit is in production.
func TestReferenceIncidentIsBlocked(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable)
	r.write("db/migrations/000001_users.down.sql", "DROP TABLE users;\n")
	r.write("internal/store/users.go", "package store\n\n// GetUser reads a user.\nconst getUser = `SELECT id, email, legacy_name FROM users WHERE id = $1`\n")
	r.write("internal/store/users_test.go", "package store\n// a test mentioning users.legacy_name is not deployed code\nconst q = `SELECT legacy_name FROM users`\n")
	deployed := r.commit("release 1")

	r.write("db/migrations/000002_drop_legacy_name.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN legacy_name;\n")
	r.write("db/migrations/000002_drop_legacy_name.down.sql", "ALTER TABLE users ADD COLUMN legacy_name text;\n")
	r.write("internal/store/users.go", "package store\n\nconst getUser = `SELECT id, email FROM users WHERE id = $1`\n")
	r.commit("drop legacy_name")

	logPath := filepath.Join(t.TempDir(), "deploys.jsonl")
	dlog, _ := events.Open(logPath, jobenv.Job{SHA: deployed})
	if err := dlog.Append(context.Background(), events.Event{Verb: "health", Event: "health_passed", Time: time.Date(2026, 11, 19, 9, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}

	res := runCheck(t, r, func(o *Options) {
		o.Base = BaseDeployed
		o.DeployedLog = []string{logPath}
	})
	if exitcode.Of(res.err) != exitcode.Fail {
		t.Fatalf("exit %d (%v), want 1\n%s", exitcode.Of(res.err), res.err, res.out)
	}
	if res.report.BaseCommit != deployed || res.report.Deployed == nil || res.report.Deployed.Event != "health_passed" {
		t.Errorf("base %s deployed %+v, want %s from health_passed", res.report.BaseCommit, res.report.Deployed, deployed)
	}
	fd := res.finding(RuleDropColumn)
	if fd == nil || !fd.Blocks || fd.Table != "users" || fd.Column != "legacy_name" {
		t.Fatalf("drop-column finding %+v\n%s", fd, res.out)
	}
	if len(fd.Hits) != 1 || fd.Hits[0].File != "internal/store/users.go" || fd.Hits[0].Line != 4 ||
		!strings.Contains(fd.Hits[0].Text, "SELECT id, email, legacy_name FROM users") {
		t.Errorf("hits %+v, want only internal/store/users.go:4 (not the comment, not the test, not HEAD's code)", fd.Hits)
	}
	for _, want := range []string{
		"BLOCKED  drop-column  db/migrations/000002_drop_legacy_name.up.sql:2",
		"ALTER TABLE users DROP COLUMN legacy_name",
		"internal/store/users.go:4: const getUser = `SELECT id, email, legacy_name FROM users WHERE id = $1`",
		"1. expand:", "2. deploy:", "3. migrate data:", "4. deploy:", "5. contract:",
		"golang-migrate (down, skipped)",
		"verdict: BLOCKED",
	} {
		if !strings.Contains(res.out, want) {
			t.Errorf("output lacks %q:\n%s", want, res.out)
		}
	}
	if !strings.Contains(res.err.Error(), "drop-column at db/migrations/000002_drop_legacy_name.up.sql:2 (used by deployed code at internal/store/users.go:4)") {
		t.Errorf("error %v", res.err)
	}
	if res.report.Verdict != "blocked" || res.report.Blocking != 1 {
		t.Errorf("report verdict %s blocking %d", res.report.Verdict, res.report.Blocking)
	}
	if !strings.Contains(res.junit, `failures="1"`) || !strings.Contains(res.junit, "internal/store/users.go:4") {
		t.Errorf("junit:\n%s", res.junit)
	}
	if len(res.events) != 1 || res.events[0].Event != "migration_blocked" || res.events[0].Figures["blocking"] != float64(1) {
		t.Errorf("events %+v", res.events)
	}
}

// The same change done expand/contract: the release in production no longer
// reads the column, so dropping it passes (with a warning).
func TestExpandContractPasses(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable)
	r.write("internal/store/users.go", "package store\n\nconst getUser = `SELECT id, email, legacy_name FROM users WHERE id = $1`\n")
	r.commit("release 1: reads legacy_name")
	// expand: the new column; the code moves to it
	r.write("db/migrations/000002_add_display_name.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users ADD COLUMN display_name text;\n")
	r.write("db/migrations/000003_backfill_display_name.up.sql", "UPDATE users SET display_name = legacy_name WHERE display_name IS NULL;\n")
	r.write("internal/store/users.go", "package store\n\nconst getUser = `SELECT id, email, display_name FROM users WHERE id = $1`\n")
	deployed := r.commit("release 2: expand, code reads display_name")
	r.git("branch", "production", deployed)
	// contract
	r.write("db/migrations/000004_drop_legacy_name.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN legacy_name;\n")
	r.commit("release 3: contract")

	res := runCheck(t, r, func(o *Options) { o.Base = "production" })
	if res.err != nil {
		t.Fatalf("err %v\n%s", res.err, res.out)
	}
	fd := res.finding(RuleDropColumn)
	if fd == nil || fd.Blocks || fd.Severity != Warning || !fd.Searched || len(fd.Hits) != 0 {
		t.Fatalf("drop-column finding %+v", fd)
	}
	if !strings.Contains(res.out, "no use of users.legacy_name found") || !strings.Contains(res.out, "verdict: OK") {
		t.Errorf("output:\n%s", res.out)
	}
	if len(res.events) != 1 || res.events[0].Event != "migration_ok" {
		t.Errorf("events %+v", res.events)
	}
	if len(res.report.Files) != 1 || res.report.Files[0].Path != "db/migrations/000004_drop_legacy_name.up.sql" {
		t.Errorf("files %+v: only the migration added since production", res.report.Files)
	}
}

func TestFormatsAndOrder(t *testing.T) {
	r := newRepo(t)
	r.write("README", "x\n")
	r.commit("empty")
	r.write("db/migrations/goose/20240301000000_b.sql", "-- +goose Up\nCREATE TABLE b (id int);\n-- +goose Down\nDROP TABLE b;\n")
	r.write("db/migrations/dbmate/20240201000000_a.sql", "-- migrate:up\nCREATE TABLE a (id int);\n-- migrate:down\nDROP TABLE a;\n")
	r.write("db/migrations/flyway/V20240401000000__c.sql", "CREATE TABLE c (id int);\n")
	r.write("db/migrations/flyway/R__views.sql", "CREATE OR REPLACE VIEW v AS SELECT 1;\n")
	r.write("db/migrations/gm/20240101000000_z.up.sql", "CREATE TABLE z (id int);\n")
	r.write("db/migrations/gm/20240101000000_z.down.sql", "DROP TABLE z;\n")
	r.write("db/migrations/notes.txt", "not a migration\n")
	r.commit("add")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.out)
	}
	var got []string
	for _, f := range res.report.Files {
		got = append(got, f.Path+" = "+f.Format)
	}
	want := []string{
		"db/migrations/gm/20240101000000_z.down.sql = golang-migrate (down, skipped)",
		"db/migrations/gm/20240101000000_z.up.sql = golang-migrate (up file)",
		"db/migrations/dbmate/20240201000000_a.sql = dbmate (-- migrate:up section)",
		"db/migrations/goose/20240301000000_b.sql = goose (-- +goose Up section)",
		"db/migrations/flyway/V20240401000000__c.sql = Flyway (versioned)",
		"db/migrations/flyway/R__views.sql = Flyway (repeatable)",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(res.report.Findings) != 0 {
		t.Errorf("creating tables is safe: %+v", res.report.Findings)
	}
}

func TestParseErrorIsBadInput(t *testing.T) {
	r := newRepo(t)
	r.write("README", "x\n")
	r.commit("empty")
	r.write("db/migrations/000001_bad.up.sql", "CREATE TABLE a (id int);\n\nALTER TABLE a ADD COLUM b int;\n")
	r.commit("bad")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if exitcode.Of(res.err) != exitcode.BadInput {
		t.Fatalf("exit %d (%v), want 2", exitcode.Of(res.err), res.err)
	}
	if msg := res.err.Error(); !strings.Contains(msg, "db/migrations/000001_bad.up.sql:3: PostgreSQL cannot parse it: syntax error at or near") {
		t.Errorf("error %q should name the file, the line and PostgreSQL's message", msg)
	}
	if len(res.events) != 0 {
		t.Errorf("bad input must not write a verdict event: %+v", res.events)
	}
}

// Bad revisions in Options built directly are bad input from Run.
func TestBadRevisionsAreBadInput(t *testing.T) {
	r := newRepo(t)
	r.write("README", "x\n")
	r.commit("one")
	cases := []struct {
		name string
		mod  func(*Options)
		want string
	}{
		{"unknown base", func(o *Options) { o.Base = "origin/nope" }, `base: "origin/nope" is not a commit`},
		{"option-like base", func(o *Options) { o.Base = "--output=x" }, "is not a git revision"},
		{"unknown head", func(o *Options) { o.Head = "nope" }, `head: "nope" is not a commit`},
		{"deployed without a log", func(o *Options) { o.Base = BaseDeployed }, "needs the event log"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := runCheck(t, r, c.mod)
			if exitcode.Of(res.err) != exitcode.BadInput || !strings.Contains(res.err.Error(), c.want) {
				t.Errorf("got exit %d %v, want 2 with %q", exitcode.Of(res.err), res.err, c.want)
			}
		})
	}
}

// New finds every bad setting before reading a migration, and names the
// setting by its flag and env var.
func TestNewRejects(t *testing.T) {
	r := newRepo(t)
	r.write("README", "x\n")
	r.commit("one")
	noEvent := filepath.Join(t.TempDir(), "e.jsonl")
	os.WriteFile(noEvent, []byte(`{"time":"2026-01-01T00:00:00Z","verb":"health","event":"health_failed","commit":"abc"}`+"\n"), 0o644)
	queries := filepath.Join(t.TempDir(), "q.sql")
	os.WriteFile(queries, []byte("SELECT 1;\n"), 0o644)
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"unknown base", []string{"--base", "origin/nope"}, nil, []string{"--base", "PMGUARD_MIGRATIONS_BASE", `"origin/nope" is not a commit`, "origin/main"}},
		{"option-like base", []string{"--base=--output=x"}, nil, []string{"--base", "PMGUARD_MIGRATIONS_BASE", "is not a git revision"}},
		{"unknown head", []string{"--base", "HEAD", "--head", "nope"}, nil, []string{"--head", "PMGUARD_MIGRATIONS_HEAD", `"nope" is not a commit`}},
		{"deployed without a log", nil, nil, []string{"--base", "PMGUARD_MIGRATIONS_BASE", "needs the event log"}},
		{"deployed, no event", []string{"--deployed-log", noEvent}, nil, []string{"--base", "no health_passed or canary_passed event with a commit"}},
		{"bad glob", []string{"--base", "HEAD", "--migrations", "db/["}, nil, []string{"--migrations", "not a valid glob"}},
		{"bad code glob", []string{"--base", "HEAD", "--code-exclude", "a/["}, nil, []string{"--code-exclude", "not a valid glob"}},
		{"unknown rule", []string{"--base", "HEAD", "--warn-rules", "drop-colum"}, nil, []string{"--warn-rules", `"drop-colum"`, "unknown rule", "drop-column"}},
		{"unknown ignored rule", []string{"--base", "HEAD", "--ignore-rules", "nope"}, nil, []string{"--ignore-rules", "unknown rule"}},
		{"postgres 99", []string{"--base", "HEAD", "--postgres-version", "99"}, nil, []string{"--postgres-version", "PMGUARD_MIGRATIONS_POSTGRES_VERSION", "from 9", "to 18"}},
		{"postgres 8", []string{"--base", "HEAD", "--postgres-version", "8"}, nil, []string{"--postgres-version", "from 9"}},
		{"queries without database", []string{"--base", "HEAD", "--compat-queries", queries}, nil, []string{"--compat-queries", "compat_queries needs a database"}},
		{"empty database env", []string{"--base", "HEAD", "--database-url-env", "PROD_DB"}, nil, []string{"--database-url-env", "empty or unset"}},
		{"unusable database URL", []string{"--base", "HEAD", "--database-url-env", "PROD_DB"}, map[string]string{"PROD_DB": "postgres://u:s3cret-pw@[::1"}, []string{"--database-url-env", "cannot be used"}},
		{"not a repository", []string{"--base", "HEAD", "--repo", "/nonexistent/repo"}, nil, []string{"--repo", "not a directory"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := map[string]string{"PMGUARD_MIGRATIONS_REPO": r.dir}
			for k, v := range c.env {
				env[k] = v
			}
			_, err := New(context.Background(), verbtest.Deps(env, nil, nil), c.args)
			if exitcode.Of(err) != exitcode.BadInput {
				t.Fatalf("exit %d (%v), want 2", exitcode.Of(err), err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("error shows the database password: %v", err)
			}
		})
	}
}

// A directory in no git repository is named as such, by the setting that
// picks the repository, rather than as HEAD not being a commit.
func TestNewOutsideRepository(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("GIT_CEILING_DIRECTORIES", filepath.Dir(dir)) // whatever holds the temp dir
	_, err := New(context.Background(), verbtest.Deps(map[string]string{"PMGUARD_MIGRATIONS_REPO": dir}, nil, nil), []string{"--base", "HEAD"})
	var ie *config.InputError
	if exitcode.Of(err) != exitcode.BadInput || !errors.As(err, &ie) || ie.Param != "repo" {
		t.Fatalf("exit %d (%T %v), want 2 naming repo", exitcode.Of(err), err, err)
	}
	for _, w := range []string{"invalid repo", "--repo", "PMGUARD_MIGRATIONS_REPO", dir + " is not a git repository", "accepted: the path of a git work tree"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if strings.Contains(err.Error(), "is not a commit") {
		t.Errorf("error blames a revision: %v", err)
	}
}

// A check built by New runs the same as one built directly.
func TestNewRun(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable)
	r.commit("deployed")
	r.write("db/migrations/000002_more.up.sql", "CREATE TABLE more (id int);\n")
	r.commit("change")
	out := t.TempDir()
	env := map[string]string{"PMGUARD_MIGRATIONS_REPO": r.dir, "PMGUARD_EVENTS_FILE": filepath.Join(out, "events.jsonl"),
		"PMGUARD_CACHE_DIR": filepath.Join(out, "cache")}
	var stdout bytes.Buffer
	o, err := New(context.Background(), verbtest.Deps(env, &stdout, nil), []string{"--base", "HEAD~1", "--postgres-version", "16", "--json", filepath.Join(out, "r.json")})
	if err != nil {
		t.Fatal(err)
	}
	if o.CacheDir != filepath.Join(out, "cache") {
		t.Errorf("cache dir %q, want PMGUARD_CACHE_DIR", o.CacheDir)
	}
	if err := Run(context.Background(), o); err != nil {
		t.Fatalf("%v\n%s", err, stdout.String())
	}
	var rep Result
	b, _ := os.ReadFile(filepath.Join(out, "r.json"))
	if err := json.Unmarshal(b, &rep); err != nil || rep.Verdict != "ok" || len(rep.Files) != 1 || rep.Base != "HEAD~1" {
		t.Errorf("report %s: %v", b, err)
	}
	evs, _, _ := events.ReadFiles(filepath.Join(out, "events.jsonl"))
	if len(evs) != 1 || evs[0].Event != events.MigrationOK {
		t.Fatalf("events %+v", evs)
	}
	var f events.Migrations
	evs[0].Decode(&f)
	if f.Files != 1 || f.Blocking != 0 || f.HeadCommit != rep.HeadCommit {
		t.Errorf("figures %+v", f)
	}
}

// Without PMGUARD_CACHE_DIR the parser's cache is pmguard's directory in
// the user cache directory.
func TestCacheDirDefault(t *testing.T) {
	var s Settings
	want := ""
	if dir, err := os.UserCacheDir(); err == nil {
		want = filepath.Join(dir, "pmguard")
	}
	if got := s.cacheDir(); got != want {
		t.Errorf("default cache dir %q, want %q", got, want)
	}
	s.CacheDir = " /srv/cache \n"
	if got := s.cacheDir(); got != "/srv/cache" {
		t.Errorf("cache dir %q", got)
	}
}

func TestEditedAndOutOfOrderMigrations(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000005_users.up.sql", usersTable)
	r.commit("deployed")
	r.write("db/migrations/000005_users.up.sql", usersTable+"CREATE TABLE extra (id int);\n")
	r.write("db/migrations/000003_late.up.sql", "CREATE TABLE late (id int);\n")
	r.write("db/migrations/000006_new.up.sql", "CREATE TABLE newer (id int);\n")
	r.commit("change")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.out)
	}
	if fd := res.finding(RuleEditedMigration); fd == nil || fd.File != "db/migrations/000005_users.up.sql" || fd.Blocks {
		t.Errorf("edited-migration %+v", fd)
	}
	if fd := res.finding(RuleOutOfOrder); fd == nil || fd.File != "db/migrations/000003_late.up.sql" || !strings.Contains(fd.Detail, "older than 000005") {
		t.Errorf("out-of-order %+v", fd)
	}
	if len(res.report.Findings) != 2 {
		t.Errorf("findings %+v", res.report.Findings)
	}
}

// Against a branch base, only what the change adds since it forked counts:
// migrations merged to main meanwhile are not the change's.
func TestComparesFromTheMergeBase(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable)
	r.commit("one")
	r.git("checkout", "-q", "-b", "feature")
	r.write("db/migrations/000003_feature.up.sql", "CREATE TABLE feature (id int);\n")
	r.commit("feature")
	r.git("checkout", "-q", "main")
	r.write("db/migrations/000002_main.up.sql", "SET lock_timeout='1s';\nALTER TABLE users DROP COLUMN legacy_name;\n")
	r.commit("main moves on")
	r.git("checkout", "-q", "feature")
	res := runCheck(t, r, func(o *Options) { o.Base = "main" })
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.out)
	}
	if len(res.report.Files) != 1 || res.report.Files[0].Path != "db/migrations/000003_feature.up.sql" {
		t.Errorf("files %+v", res.report.Files)
	}
	if res.report.MergeBase == res.report.BaseCommit {
		t.Error("merge base should differ from main's tip")
	}
}

func TestOverridesAndSettingsDecideBlocking(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable)
	r.write("app/users.py", "QUERY = \"SELECT email, legacy_name FROM users\"\n")
	r.commit("deployed")
	r.write("db/migrations/000002_x.up.sql", `SET lock_timeout = '5s';
-- pmguard:allow drop-column the column is written by a trigger only; reads were removed in v41
ALTER TABLE users DROP COLUMN legacy_name;
CREATE INDEX users_email ON users (email);
TRUNCATE users;
`)
	r.commit("change")
	res := runCheck(t, r, func(o *Options) {
		o.Base = "HEAD~1"
		o.WarnRules = []string{RuleIndexConcurrently}
		o.IgnoreRules = []string{RuleTruncate}
	})
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.out)
	}
	drop := res.finding(RuleDropColumn)
	if drop == nil || drop.Blocks || drop.Allowed != "the column is written by a trigger only; reads were removed in v41" || len(drop.Hits) != 1 {
		t.Errorf("drop-column %+v", drop)
	}
	if ix := res.finding(RuleIndexConcurrently); ix == nil || ix.Blocks || ix.Severity != Warning {
		t.Errorf("index %+v", ix)
	}
	if res.finding(RuleTruncate) != nil {
		t.Error("ignored rule reported")
	}
	if !strings.Contains(res.out, "ALLOWED  drop-column") || !strings.Contains(res.out, "allowed by pmguard:allow: the column is written by a trigger only") {
		t.Errorf("output:\n%s", res.out)
	}
	if res.report.Allowed != 1 || res.report.Warnings != 2 || res.report.Blocking != 0 || res.finding(RuleStatementTimeout) == nil {
		t.Errorf("counts %+v", res.report)
	}
}

func TestNothingChanged(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable)
	r.commit("one")
	r.write("main.go", "package main\n")
	r.commit("code only")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if res.err != nil || !strings.Contains(res.out, "no migration file was added or changed") || res.events[0].Event != "migration_ok" {
		t.Errorf("err %v events %+v\n%s", res.err, res.events, res.out)
	}
	if !strings.Contains(res.junit, "no migration changed") {
		t.Errorf("junit %s", res.junit)
	}
}

// The deployed migrations are replayed: a NOT NULL check added NOT VALID in
// a migration already at base, validated and used by SET NOT NULL in later
// migrations of the change, is no scan; a column the change adds is not
// exempt from the scan and rewrite rules.
func TestDeployedSchemaInformsTheRules(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable)
	r.write("db/migrations/000002_email_check.up.sql", "ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;\nALTER TABLE users ADD COLUMN nickname varchar(20);\n")
	r.commit("deployed")
	r.write("db/migrations/000003_validate.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users VALIDATE CONSTRAINT users_email_nn;\n")
	r.write("db/migrations/000004_not_null.up.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\nALTER TABLE users ALTER COLUMN email SET NOT NULL;\n"+
		"ALTER TABLE users ALTER COLUMN nickname TYPE varchar(40);\n"+
		"ALTER TABLE users ADD COLUMN bar bigint;\nALTER TABLE users ALTER COLUMN bar SET NOT NULL;\n")
	r.commit("change")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1"; o.PostgresVersion = 15 })
	if res.report.SchemaFiles != 2 {
		t.Errorf("schema from %d files, want 2", res.report.SchemaFiles)
	}
	var notNull []Finding
	for _, f := range res.report.Findings {
		if f.Rule == RuleSetNotNull {
			notNull = append(notNull, f)
		}
		if f.Rule == RuleChangeColumnType {
			t.Errorf("varchar(20) -> varchar(40) needs no rewrite: %+v", f)
		}
	}
	if len(notNull) != 1 || notNull[0].Column != "bar" || !strings.Contains(notNull[0].Detail, "added earlier in this change") ||
		!strings.Contains(notNull[0].Lock, "ACCESS EXCLUSIVE") || !strings.Contains(notNull[0].Lock, "users") {
		t.Errorf("set-not-null findings %+v", notNull)
	}
	if !strings.Contains(res.out, "deployed schema: 2 migration file(s)") || !strings.Contains(res.out, "lock: ACCESS EXCLUSIVE") {
		t.Errorf("output:\n%s", res.out)
	}
}

// A statement newer than the parser is a blocking finding naming it; the
// rest of the file is still checked; a pmguard:ignore with a reason accepts
// it and the JSON report lists it as suppressed.
func TestNewerSyntaxIsAFindingAndSuppressible(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable)
	r.commit("deployed")
	r.write("db/migrations/000002_repack.up.sql", "SET lock_timeout = '5s';\nREPACK (CONCURRENTLY) users;\nALTER TABLE users DROP COLUMN legacy_name;\n")
	r.commit("change")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if exitcode.Of(res.err) != exitcode.Fail {
		t.Fatalf("err %v, want a verdict\n%s", res.err, res.out)
	}
	u := res.finding(RuleSyntaxUnknown)
	if u == nil || !u.Blocks || u.Line != 2 || u.Statement != "REPACK (CONCURRENTLY) users" || !strings.Contains(u.Detail, "REPACK") {
		t.Fatalf("finding %+v\n%s", u, res.out)
	}
	if res.finding(RuleDropColumn) == nil {
		t.Error("the statements after the unknown one were not checked")
	}

	r.write("db/migrations/000002_repack.up.sql", "SET lock_timeout = '5s';\n-- pmguard:ignore syntax-unknown-to-parser: production runs PostgreSQL 19\nREPACK (CONCURRENTLY) users;\n")
	r.commit("suppressed")
	res = runCheck(t, r, func(o *Options) { o.Base = "HEAD~2" })
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.out)
	}
	if len(res.report.Suppressed) != 1 || res.report.Suppressed[0].Reason != "production runs PostgreSQL 19" ||
		res.report.Suppressed[0].Directive != "pmguard:ignore at line 2" || res.report.Suppressed[0].Line != 3 {
		t.Errorf("suppressed %+v", res.report.Suppressed)
	}
	if !strings.Contains(res.out, "allowed by pmguard:ignore: production runs PostgreSQL 19") {
		t.Errorf("output:\n%s", res.out)
	}

	r.write("db/migrations/000002_repack.up.sql", "-- pmguard:ignore syntax-unknown-to-parser\nREPACK (CONCURRENTLY) users;\n")
	r.commit("no reason")
	res = runCheck(t, r, func(o *Options) { o.Base = "HEAD~3" })
	if res.err == nil || !strings.Contains(res.err.Error(), "has no reason: a suppression must say why") {
		t.Errorf("err %v", res.err)
	}
}

// strong_migrations' recipe: the deployed model ignores the column, so the
// drop does not block, and the report says which declaration it read.
func TestIgnoredColumnsDeclarationIsNotAUse(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable)
	r.write("app/models/user.rb", "class User < ApplicationRecord\n  self.ignored_columns += [\"legacy_name\"]\nend\n")
	r.commit("deployed: the model ignores legacy_name")
	r.write("db/migrations/000002_drop.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users DROP COLUMN legacy_name;\n")
	r.commit("contract")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.out)
	}
	d := res.finding(RuleDropColumn)
	if d == nil || d.Blocks || len(d.Hits) != 0 || len(d.Ignored) != 1 || d.Ignored[0].Declaration != "Rails ignored_columns" {
		t.Fatalf("drop-column %+v", d)
	}
	if !strings.Contains(res.out, "declares users.legacy_name ignored, not a use (Rails ignored_columns)") {
		t.Errorf("output:\n%s", res.out)
	}
}

// A Django app at the deployed commit: the accounts_customer table is named
// by Django's default (app label + model), legacy_name is marked with
// django-deprecate-fields, nickname is a field stored in column nick, and
// the unmanaged report model still queries its columns.
func djangoRepo(t *testing.T) *gitRepo {
	r := newRepo(t)
	r.write("db/migrations/000001_customers.up.sql", "CREATE TABLE accounts_customer (id bigserial PRIMARY KEY, legacy_name text, nickname text, nick text);\n"+
		"CREATE TABLE customer_report (id bigint, total numeric);\n")
	r.write("shop/accounts/models.py", `from django.db import models
from django_deprecate_fields import deprecate_field


class Customer(models.Model):
    legacy_name = deprecate_field(models.TextField(null=True))
    nickname = models.TextField(db_column="nick")


class CustomerReport(models.Model):
    total = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        managed = False
        db_table = "customer_report"
`)
	r.commit("deployed: the Django models")
	return r
}

func TestDjangoDeprecateFieldIsNotAUse(t *testing.T) {
	r := djangoRepo(t)
	r.write("db/migrations/000002_drop.up.sql", "SET lock_timeout = '5s';\nALTER TABLE accounts_customer DROP COLUMN legacy_name;\n")
	r.commit("contract")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.out)
	}
	d := res.finding(RuleDropColumn)
	if d == nil || d.Blocks || len(d.Hits) != 0 || len(d.Ignored) != 1 || !strings.HasPrefix(d.Ignored[0].Declaration, "django-deprecate-fields deprecate_field()") {
		t.Fatalf("drop-column %+v", d)
	}
	if !strings.Contains(res.out, "declares accounts_customer.legacy_name ignored, not a use (django-deprecate-fields deprecate_field()") ||
		!strings.Contains(res.out, "shop/accounts/models.py:6: legacy_name = deprecate_field(models.TextField(null=True))") {
		t.Errorf("output:\n%s", res.out)
	}
}

// db_column: the field nickname is stored in column nick. Dropping the
// column nickname is not a use of it; dropping nick is, and blocks.
func TestDjangoDBColumnNamesTheColumnUsed(t *testing.T) {
	r := djangoRepo(t)
	r.write("db/migrations/000002_drop.up.sql", "SET lock_timeout = '5s';\nALTER TABLE accounts_customer DROP COLUMN nickname;\n")
	r.commit("drop the column no field uses")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if res.err != nil {
		t.Fatalf("%v\n%s", res.err, res.out)
	}
	d := res.finding(RuleDropColumn)
	if d == nil || d.Blocks || len(d.Hits) != 0 || len(d.Ignored) != 1 || d.Ignored[0].Kind != "orm-mapped" ||
		d.Ignored[0].Declaration != `Django db_column="nick": the field nickname is stored in column nick` {
		t.Fatalf("drop nickname %+v", d)
	}
	if !strings.Contains(res.out, "deployed code at "+res.report.BaseCommit[:12]+": Django db_column=\"nick\": the field nickname is stored in column nick, not a use of accounts_customer.nickname:\n") ||
		!strings.Contains(res.out, `shop/accounts/models.py:7: nickname = models.TextField(db_column="nick")`) {
		t.Errorf("output:\n%s", res.out)
	}

	r.write("db/migrations/000003_drop.up.sql", "SET lock_timeout = '5s';\nALTER TABLE accounts_customer DROP COLUMN nick;\n")
	r.commit("drop the column the field is stored in")
	res = runCheck(t, r, func(o *Options) { o.Base = "HEAD~2" })
	if exitcode.Of(res.err) != exitcode.Fail {
		t.Fatalf("dropping nick: err %v\n%s", res.err, res.out)
	}
	for _, f := range res.report.Findings {
		if f.Rule == RuleDropColumn && f.Column == "nick" && (!f.Blocks || len(f.Hits) != 1 || f.Hits[0].Line != 7) {
			t.Errorf("drop nick %+v", f)
		}
	}
}

// managed = False changes nothing about the queries: a use, and the report
// says why it still counts.
func TestDjangoUnmanagedModelStillQueriesItsColumns(t *testing.T) {
	r := djangoRepo(t)
	r.write("db/migrations/000002_drop.up.sql", "SET lock_timeout = '5s';\nALTER TABLE customer_report DROP COLUMN total;\n")
	r.commit("drop a column of the unmanaged model")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if exitcode.Of(res.err) != exitcode.Fail {
		t.Fatalf("err %v\n%s", res.err, res.out)
	}
	d := res.finding(RuleDropColumn)
	if d == nil || !d.Blocks || len(d.Hits) != 1 || d.Hits[0].Note != noteDjangoUnmanaged {
		t.Fatalf("drop-column %+v", d)
	}
	if !strings.Contains(res.out, "shop/accounts/models.py:11: total = models.DecimalField(max_digits=12, decimal_places=2)\n      ("+noteDjangoUnmanaged+")") {
		t.Errorf("output:\n%s", res.out)
	}
}

// Dropping a primary key or unique constraint breaks the deployed code's
// INSERT ... ON CONFLICT on its columns: the uses are searched for, and only
// those naming the constraint's columns (or the constraint) count.
func TestDropUniqueConstraintAndUpserts(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable+"ALTER TABLE users ADD CONSTRAINT users_email_uq UNIQUE (email);\n")
	r.write("internal/store/users.go", "package store\n\n"+
		"const upsert = `INSERT INTO users (id, email) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET email = $2`\n"+
		"const byEmail = `INSERT INTO users (email) VALUES ($1) ON CONFLICT (email) DO NOTHING`\n"+
		"const any = `INSERT INTO users (email) VALUES ($1) ON CONFLICT DO NOTHING`\n")
	r.commit("deployed")
	r.write("db/migrations/000002_keys.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users DROP CONSTRAINT users_pkey;\n")
	r.commit("drop the key")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if exitcode.Of(res.err) != exitcode.Fail {
		t.Fatalf("err %v\n%s", res.err, res.out)
	}
	fd := res.finding(RuleDropUniqueConstraint)
	if fd == nil || !fd.Blocks || len(fd.Hits) != 1 || fd.Hits[0].Line != 3 || !strings.Contains(fd.Detail, "users_pkey on users (id)") {
		t.Fatalf("finding %+v\n%s", fd, res.out)
	}
	if !strings.Contains(res.out, "deployed code at "+res.report.BaseCommit[:12]+" that runs INSERT ... ON CONFLICT on users (id):") {
		t.Errorf("output:\n%s", res.out)
	}

	r.write("db/migrations/000003_keys.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users DROP CONSTRAINT users_email_uq;\n")
	r.commit("drop the email key")
	res = runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	fd = res.finding(RuleDropUniqueConstraint)
	if fd == nil || !fd.Blocks || len(fd.Hits) != 1 || fd.Hits[0].Line != 4 {
		t.Fatalf("email key: %+v\n%s", fd, res.out)
	}
}

// A table renamed and replaced by a view under its old name in the same
// transaction keeps the old name working: the deployed code's uses are
// listed, and do not make the rename block.
func TestRenameBridgedByAViewDoesNotBlock(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/000001_users.up.sql", usersTable)
	r.write("internal/store/users.go", "package store\n\nconst byID = `SELECT id, email FROM users WHERE id = $1`\n")
	r.commit("deployed")
	r.write("db/migrations/000002_accounts.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users RENAME TO accounts;\nCREATE VIEW users AS SELECT * FROM accounts;\n")
	r.commit("rename users")
	res := runCheck(t, r, func(o *Options) { o.Base = "HEAD~1" })
	if res.err != nil {
		t.Fatalf("err %v\n%s", res.err, res.out)
	}
	fd := res.finding(RuleRenameTable)
	if fd == nil || fd.Blocks || fd.Severity != Warning || len(fd.Hits) != 1 || !strings.Contains(fd.Detail, "keeps the old name working") {
		t.Fatalf("finding %+v\n%s", fd, res.out)
	}
	// without the view the same rename blocks
	r.write("db/migrations/000002_accounts.up.sql", "SET lock_timeout = '5s';\nALTER TABLE users RENAME TO accounts;\n")
	r.commit("no view")
	res = runCheck(t, r, func(o *Options) { o.Base = "HEAD~2" })
	if fd := res.finding(RuleRenameTable); fd == nil || !fd.Blocks {
		t.Fatalf("finding %+v\n%s", fd, res.out)
	}
}

// A function or type the deployed code names blocks its rename; one no code
// names is a warning.
func TestRenameObjectBlocksWhenTheDeployedCodeUsesIt(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/001_fn.sql", "CREATE FUNCTION normalize_email(e text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(e) $$;\nCREATE TYPE mood AS ENUM ('sad', 'ok');\n")
	r.write("internal/store/users.go", "package store\n\nconst q = `SELECT normalize_email($1)`\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "feature")
	r.write("db/migrations/002_rename.sql", "SET lock_timeout = '5s';\nALTER FUNCTION normalize_email(text) RENAME TO clean_email;\nALTER TYPE mood RENAME TO feeling;\n")
	r.commit("rename")
	res := runCheck(t, r, nil)
	var fn, typ *Finding
	for i, fd := range res.report.Findings {
		if fd.Rule == RuleRenameObject && fd.Table == "normalize_email" {
			fn = &res.report.Findings[i]
		}
		if fd.Rule == RuleRenameObject && fd.Table == "mood" {
			typ = &res.report.Findings[i]
		}
	}
	if fn == nil || !fn.Blocks || len(fn.Hits) != 1 || fn.Hits[0].File != "internal/store/users.go" {
		t.Errorf("the function's rename: %+v, want blocking with the deployed code's use\n%s", fn, res.out)
	}
	if typ == nil || typ.Blocks || typ.Severity != Warning || !typ.Searched {
		t.Errorf("the type's rename: %+v, want a searched warning\n%s", typ, res.out)
	}
	if res.err == nil {
		t.Error("a blocking rename passed")
	}
}

// Every finding on a table names it in the report, whatever the statement.
func TestTableFindingsNameTheirTable(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/001_init.sql", "CREATE TABLE users (id bigint PRIMARY KEY, n int, g int GENERATED ALWAYS AS (n * 2) STORED);\nCREATE INDEX users_n ON users (n);\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "feature")
	r.write("db/migrations/002_change.sql", "SET lock_timeout = '5s';\nSET statement_timeout = '5s';\n"+
		"ALTER TABLE users SET LOGGED;\nALTER TABLE users SET ACCESS METHOD heap;\nALTER TABLE users ALTER COLUMN g SET EXPRESSION AS (n * 3);\n"+
		"CLUSTER users USING users_n;\nTRUNCATE users;\n")
	r.commit("change")
	res := runCheck(t, r, func(o *Options) { o.PostgresVersion = 17 })
	n := 0
	for _, fd := range res.report.Findings {
		if fd.Rule != RuleTableRewrite && fd.Rule != RuleTruncate {
			continue
		}
		n++
		if fd.Table != "users" || !strings.Contains(fd.Lock, " on users") {
			t.Errorf("%s at line %d: table %q, lock %q", fd.Rule, fd.Line, fd.Table, fd.Lock)
		}
	}
	if n < 5 {
		t.Errorf("%d table-rewrite/truncate findings, want 5\n%s", n, res.out)
	}
}

// CREATE OR REPLACE of a deployed function keeps the one the running
// release calls, so renaming it afterwards is still rename-object; a
// function created in the change does not hide a deployed type's rename.
func TestRenameObjectAfterReplaceOrANamesake(t *testing.T) {
	r := newRepo(t)
	r.write("db/migrations/001_fn.sql", "CREATE FUNCTION normalize_email(e text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(e) $$;\nCREATE TYPE mood AS ENUM ('sad', 'ok');\n")
	r.commit("base")
	r.git("checkout", "-q", "-b", "feature")
	r.write("db/migrations/002_rename.sql", "SET lock_timeout = '5s';\n"+
		"CREATE OR REPLACE FUNCTION normalize_email(e text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(trim(e)) $$;\n"+
		"ALTER FUNCTION normalize_email(text) RENAME TO clean_email;\n"+
		"CREATE FUNCTION mood() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"+
		"ALTER TYPE mood RENAME TO feeling;\n")
	r.commit("rename")
	res := runCheck(t, r, nil)
	got := map[string]bool{}
	for _, fd := range res.report.Findings {
		if fd.Rule == RuleRenameObject {
			got[fd.Table] = true
		}
	}
	if !got["normalize_email"] || !got["mood"] {
		t.Errorf("rename-object on %v, want normalize_email and mood\n%s", got, res.out)
	}
}
