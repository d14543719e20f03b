package rollback_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pmguard/pmguard/internal/circleci/circlecitest"
	"github.com/pmguard/pmguard/internal/circleci/inmemory"
	"github.com/pmguard/pmguard/internal/events"
	"github.com/pmguard/pmguard/internal/exitcode"
	"github.com/pmguard/pmguard/internal/rollback"
)

// gitRepo makes a repository with two commits, the target and the failed
// deploy's, and returns its directory and both SHAs.
func gitRepo(t *testing.T, target, failed map[string]string) (dir, targetSHA, failedSHA string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	dir = t.TempDir()
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func(files map[string]string) string {
		for p, c := range files {
			full := filepath.Join(dir, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		git("add", "-A")
		git("commit", "-q", "-m", "change")
		return git("rev-parse", "HEAD")
	}
	git("init", "-q")
	return dir, commit(target), commit(failed)
}

// The target's code at the first commit.
var targetCode = map[string]string{
	"app/users.go":  "package app\n\nconst q = `SELECT id, email, name FROM users WHERE id = $1`\n",
	"app/orders.go": "package app\n\nconst ins = `INSERT INTO orders (id, total) VALUES ($1, $2)`\nconst sel = `SELECT total FROM orders`\n",
	"db/migrations/0001_init.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);\n" +
		"CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);\n",
}

func TestSchemaCheck(t *testing.T) {
	tests := []struct {
		name   string
		files  map[string]string // the failed deploy's migrations
		mode   string
		want   []string // in the output
		exit   int
		ok     bool // no finding
		layout string
		env    map[string]string
	}{
		{name: "reference incident: golang-migrate drops a column the old code reads", layout: "golang-migrate",
			files: map[string]string{
				"db/migrations/0042_drop_email.up.sql":   "ALTER TABLE users DROP COLUMN email;\n",
				"db/migrations/0042_drop_email.down.sql": "ALTER TABLE users ADD COLUMN email text;\n",
			},
			want: []string{"will not restore service", "it uses users.email (app/users.go:3), dropped by db/migrations/0042_drop_email.up.sql",
				"undo it with db/migrations/0042_drop_email.down.sql", "Rolling back anyway"}},
		{name: "fail refuses to trigger", layout: "golang-migrate", mode: "fail", exit: 1,
			files: map[string]string{"db/migrations/0042_drop_email.up.sql": "ALTER TABLE users DROP COLUMN email;\n"},
			want:  []string{"dropped by db/migrations/0042_drop_email.up.sql"}},
		{name: "Flyway renames a column; its undo migration", layout: "flyway",
			files: map[string]string{
				"db/migrations/V43__full_name.sql": "ALTER TABLE users RENAME COLUMN name TO full_name;\n",
				"db/migrations/U43__full_name.sql": "ALTER TABLE users RENAME COLUMN full_name TO name;\n",
			},
			want: []string{"it uses users.name (app/users.go:3), renamed to full_name by db/migrations/V43__full_name.sql", "undo it with db/migrations/U43__full_name.sql"}},
		{name: "goose changes a type the old code reads", layout: "goose",
			files: map[string]string{"db/migrations/00044_total_text.sql": "-- +goose Up\nALTER TABLE orders ALTER COLUMN total TYPE bigint;\n-- +goose Down\nALTER TABLE orders ALTER COLUMN total TYPE numeric;\n"},
			want:  []string{"it uses orders.total (app/orders.go:3 and 1 more), whose type db/migrations/00044_total_text.sql changed", "the -- +goose Down section of db/migrations/00044_total_text.sql"}},
		{name: "dbmate adds a NOT NULL column the old code does not write", layout: "dbmate",
			files: map[string]string{"db/migrations/20250301_region.sql": "-- migrate:up\nALTER TABLE orders ADD COLUMN region text NOT NULL;\n-- migrate:down\nALTER TABLE orders DROP COLUMN region;\n"},
			want:  []string{"it writes orders (app/orders.go:3 and 1 more) without orders.region, which db/migrations/20250301_region.sql made NOT NULL with no default", "the -- migrate:down section"}},
		{name: "Rails removes a column the old code reads; Rails reverses it", layout: "rails",
			env:   map[string]string{"PMGUARD_ROLLBACK_MIGRATIONS": "db/migrations/**/*.sql,db/migrate/*.rb"},
			files: map[string]string{"db/migrate/20261120140500_remove_email_from_users.rb": "class RemoveEmailFromUsers < ActiveRecord::Migration[7.1]\n  def change\n    remove_column :users, :email, :string\n  end\nend\n"},
			want: []string{"it uses users.email (app/users.go:3), dropped by db/migrate/20261120140500_remove_email_from_users.rb",
				"undo it with bin/rails db:migrate:down VERSION=20261120140500 (Rails reverses its change method in db/migrate/20261120140500_remove_email_from_users.rb), or bin/rails db:rollback STEP=1"}},
		{name: "Rails: fail refuses, and says the migration cannot be run down", layout: "rails", mode: "fail", exit: 1,
			env:   map[string]string{"PMGUARD_ROLLBACK_MIGRATIONS": "db/migrations/**/*.sql,db/migrate/*.rb"},
			files: map[string]string{"db/migrate/20261120140500_remove_email_from_users.rb": "class RemoveEmailFromUsers < ActiveRecord::Migration[7.1]\n  def change\n    remove_column :users, :email\n  end\nend\n"},
			want:  []string{"dropped by db/migrate/20261120140500_remove_email_from_users.rb; Rails cannot run it down (remove_column without a type)"}},
		{name: "plain SQL that leaves the old code working", layout: "plain", ok: true,
			files: map[string]string{"db/migrations/0045_nickname.sql": "ALTER TABLE users ADD COLUMN nickname text;\n"},
			want:  []string{"Schema check: the 1 migration(s) between"}},
		{name: "off", layout: "golang-migrate", mode: "off", ok: true,
			files: map[string]string{"db/migrations/0042_drop_email.up.sql": "ALTER TABLE users DROP COLUMN email;\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, target, failed := gitRepo(t, targetCode, tt.files)
			srv := circlecitest.New(t, inmemory.Options{Token: token})
			h := &history{srv: srv, slug: "gh/acme/api"}
			srv.AddProject(h.slug)
			base := srv.Now().Add(-2 * time.Hour)
			h.good = srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", Revision: target, CreatedAt: base,
				Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "success"}}})
			h.failed = srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", Revision: failed, CreatedAt: base.Add(time.Hour),
				Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: "failed"}}})
			mode := tt.mode
			if mode == "" {
				mode = "warn"
			}
			env := map[string]string{"PMGUARD_ROLLBACK_SCHEMA_CHECK": mode, "PMGUARD_ROLLBACK_REPO": dir}
			for k, v := range tt.env {
				env[k] = v
			}
			hs := h.optionsEnv(t, env, "--strategy", "trigger")
			res, err := rollback.Do(context.Background(), hs.opts)
			if exitcode.Of(err) != tt.exit {
				t.Fatalf("exit %d (%v), want %d\n%s", exitcode.Of(err), err, tt.exit, hs.out)
			}
			out := hs.out.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("the output does not say %q:\n%s", w, out)
				}
			}
			evs := readEvents(t, hs.events)
			if mode == "off" {
				if strings.Contains(out, "Schema check") || res.Schema != nil {
					t.Fatalf("schema check ran with off:\n%s", out)
				}
				return
			}
			if tt.exit == 1 {
				if srv.Writes() != 0 {
					t.Fatalf("%d writes: schema_check fail must not trigger", srv.Writes())
				}
				if !strings.Contains(err.Error(), "no rollback started") {
					t.Fatalf("err %v", err)
				}
				f := events.Filter(evs, events.RollbackFailed)
				if len(f) != 1 || f[0].Figures.String("reason") != "schema_check" || !strings.Contains(f[0].Message, "users.email") {
					t.Fatalf("rollback_failed events %+v", f)
				}
				return
			}
			ini := events.Filter(evs, events.RollbackInitiated)
			if len(ini) != 1 {
				t.Fatalf("events %v", names(evs))
			}
			var fig events.Rollback
			ini[0].Decode(&fig)
			if tt.ok {
				if fig.SchemaCheck != "ok" || len(fig.SchemaFindings) != 0 {
					t.Fatalf("figures %+v, want schema_check ok", fig)
				}
				return
			}
			if fig.SchemaCheck != "warn" || len(fig.SchemaFindings) != 1 || !strings.Contains(ini[0].Message, "will not restore service") {
				t.Fatalf("event %q figures %+v, want the warning", ini[0].Message, fig)
			}
			if res.Schema == nil || len(res.Schema.Findings) != 1 || res.Schema.Findings[0].Down == "" {
				t.Fatalf("schema result %+v, want one finding with its down migration", res.Schema)
			}
		})
	}
}

// The target is a rollback pipeline that deployed a tag while it ran at
// its branch's head (the failed commit): the check reads the tag's code,
// not the head's, and finds what the failed deploy's migration broke.
func TestSchemaCheckOfARollbackThatDeployedATag(t *testing.T) {
	dir, target, failed := gitRepo(t, targetCode, map[string]string{"db/migrations/0042_drop_email.up.sql": "ALTER TABLE users DROP COLUMN email;\n"})
	if out, err := exec.Command("git", "-C", dir, "tag", "v1.0", target).CombinedOutput(); err != nil {
		t.Fatalf("git tag: %v\n%s", err, out)
	}
	h := &history{srv: circlecitest.New(t, inmemory.Options{Token: token}), slug: "gh/acme/api"}
	h.srv.AddProject(h.slug)
	base := h.srv.Now().Add(-4 * time.Hour)
	add := func(rev, status string, at time.Duration, params map[string]any) *inmemory.Pipeline {
		return h.srv.AddPipeline(h.slug, inmemory.PipelineSeed{Branch: "main", Revision: rev, CreatedAt: base.Add(at), Params: params,
			Workflows: []inmemory.WorkflowSeed{{Name: "deploy", Status: status}}})
	}
	add(target, "success", 0, nil)
	bad := add(failed, "failed", time.Hour, nil)
	add(failed, "success", 2*time.Hour, map[string]any{rollback.ParamRollback: true, rollback.ParamRollbackOf: bad.ID, rollback.ParamTargetVersion: "v1.0"})
	h.failed = add(failed, "failed", 3*time.Hour, nil)
	hs := h.optionsEnv(t, map[string]string{"PMGUARD_ROLLBACK_SCHEMA_CHECK": "warn", "PMGUARD_ROLLBACK_REPO": dir}, "--strategy", "trigger")
	res, err := rollback.Do(context.Background(), hs.opts)
	if err != nil {
		t.Fatalf("%v\n%s", err, hs.out)
	}
	if res.Target.Version != "v1.0" {
		t.Fatalf("target %+v, want v1.0\n%s", res.Target, hs.out)
	}
	if res.Schema == nil || len(res.Schema.Findings) != 1 || !strings.Contains(hs.out.String(), "users.email") || !strings.Contains(hs.out.String(), "0042_drop_email") {
		t.Fatalf("schema result %+v, want the dropped users.email\n%s", res.Schema, hs.out)
	}
}
