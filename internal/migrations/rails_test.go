package migrations

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestRailsRead(t *testing.T) {
	const head = "class M < ActiveRecord::Migration[7.1]\n"
	tests := []struct {
		name         string
		body         string
		want         []string // rule table.column[>new]
		irreversible string   // "" when Rails can run it down
		hasDown      bool
	}{
		{name: "remove_column without a type cannot be reversed",
			body: "  def change\n    remove_column :users, :email # the old code reads it\n  end\n",
			want: []string{"drop-column users.email"}, irreversible: "remove_column without a type"},
		{name: "remove_column with a type is reversible",
			body: "  def change\n    remove_column :users, :email, :string, null: true\n  end\n",
			want: []string{"drop-column users.email"}},
		{name: "rename_column, rename_table, drop_table with its columns",
			body: "  def change\n    rename_column :users, :name, :full_name\n    rename_table \"orders\", \"purchases\"\n    drop_table :carts do |t|\n      t.string :token\n    end\n  end\n",
			want: []string{"rename-column users.name>full_name", "rename-table orders>purchases", "drop-table carts"}},
		{name: "change_column in change", body: "  def change\n    change_column :orders, :total, :bigint\n  end\n",
			want: []string{"change-column-type orders.total"}, irreversible: "change_column"},
		{name: "up and down methods: only up counts",
			body: "  def up\n    change_column_null :users, :region, false\n    add_column :users, :plan, :string, null: false\n    add_column :users, :tier, :string, null: false, default: \"free\"\n  end\n\n  def down\n    remove_column :users, :plan\n    change_column_null :users, :region, true\n  end\n",
			want: []string{"set-not-null users.region", "add-not-null-column users.plan"}, hasDown: true},
		{name: "hash-rocket options, parentheses, a # inside a string",
			body: "  def change\n    add_column(:users, :plan, :string, :null => false) # \"#\" in a comment\n    add_column :users, :note, :string, null: false, comment: \"# not a comment\"\n  end\n",
			want: []string{"add-not-null-column users.plan", "add-not-null-column users.note"}},
		{name: "safety_assured and a trailing modifier",
			body: "  def change\n    safety_assured { remove_column :users, :email, :string }\n    remove_column :users, :phone, :string if column_exists?(:users, :phone)\n  end\n",
			want: []string{"drop-column users.email", "drop-column users.phone"}},
		{name: "up without down", body: "  def up\n    drop_table :carts\n  end\n",
			want: []string{"drop-table carts"}, irreversible: "an up method without a down method"},
		{name: "down raising IrreversibleMigration",
			body: "  def up\n    drop_table :carts\n  end\n  def down\n    raise ActiveRecord::IrreversibleMigration\n  end\n",
			want: []string{"drop-table carts"}, irreversible: "its down method raises ActiveRecord::IrreversibleMigration", hasDown: true},
		{name: "reversible block: its up part counts, its down part undoes it",
			body: "  def change\n    reversible do |dir|\n      dir.up do\n        change_column :orders, :total, :bigint\n      end\n      dir.down do\n        change_column :orders, :total, :numeric\n      end\n    end\n  end\n",
			want: []string{"change-column-type orders.total"}},
		{name: "change_table's remove and rename",
			body: "  def change\n    change_table :users do |t|\n      t.remove :email, type: :string\n      t.rename :name, :full_name\n      t.string :nickname\n    end\n  end\n",
			want: []string{"drop-column users.email", "rename-column users.name>full_name"}},
		{name: "a heredoc's lines are not Ruby; a call over several lines is one",
			body: "  def up\n    execute <<~SQL\n      UPDATE users SET plan = case when paid then 'pro'\n      end\n    SQL\n    remove_column :users,\n      :email\n    rename_column(:users,\n      :name, :full_name)\n  end\n  def down\n  end\n",
			want: []string{"drop-column users.email", "rename-column users.name>full_name"}, hasDown: true},
		{name: "execute in change cannot be reversed", body: "  def change\n    execute \"UPDATE users SET plan = 'free'\"\n    add_column :users, :nickname, :string\n  end\n",
			irreversible: "execute"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := railsRead("db/migrate/20261120140500_m.rb", head+tt.body+"end\n")
			var got []string
			for _, f := range m.Findings {
				s := f.Rule + " " + f.Table
				if f.Column != "" {
					s += "." + f.Column
				}
				if f.NewName != "" {
					s += ">" + f.NewName
				}
				got = append(got, s)
			}
			if strings.Join(got, "; ") != strings.Join(tt.want, "; ") {
				t.Errorf("findings %q, want %q", got, tt.want)
			}
			if m.Irreversible != tt.irreversible || m.HasDown != tt.hasDown {
				t.Errorf("irreversible %q down %v, want %q %v", m.Irreversible, m.HasDown, tt.irreversible, tt.hasDown)
			}
			if m.Version != "20261120140500" {
				t.Errorf("version %q", m.Version)
			}
		})
	}
}

// The reference incident in a Rails application: the failed deploy removed
// a column the code it rolls back to reads.
func TestCheckRollbackRails(t *testing.T) {
	tests := []struct {
		name, migration string
		want            []string // in the finding's message or down
		down            bool
		line            int    // the finding's line (3 when 0)
		note            string // in the one note, when set
	}{
		{name: "reversible: remove_column with its type", down: true,
			migration: "class RemoveEmailFromUsers < ActiveRecord::Migration[7.1]\n  def change\n    remove_column :users, :email, :string\n  end\nend\n",
			want: []string{"it uses users.email (app/controllers/users_controller.rb:3), dropped by db/migrate/20261120140500_remove_email_from_users.rb",
				"bin/rails db:migrate:down VERSION=20261120140500 (Rails reverses its change method in db/migrate/20261120140500_remove_email_from_users.rb)",
				"bin/rails db:rollback STEP=2"}},
		{name: "down method", down: true,
			migration: "class RemoveEmailFromUsers < ActiveRecord::Migration[7.1]\n  def up\n    remove_column :users, :email\n  end\n\n  def down\n    add_column :users, :email, :string\n  end\nend\n",
			want:      []string{"dropped by db/migrate/20261120140500_remove_email_from_users.rb", "(its down method in db/migrate/20261120140500_remove_email_from_users.rb)"}},
		{name: "irreversible: remove_column without a type",
			migration: "class RemoveEmailFromUsers < ActiveRecord::Migration[7.1]\n  def change\n    remove_column :users, :email\n  end\nend\n",
			want:      []string{"dropped by db/migrate/20261120140500_remove_email_from_users.rb; Rails cannot run it down (remove_column without a type)"}},
		{name: "a call split over lines", down: true,
			migration: "class RemoveEmailFromUsers < ActiveRecord::Migration[7.1]\n  def change\n    remove_column(\n      :users,\n      :email, :string\n    )\n  end\nend\n",
			want:      []string{"dropped by db/migrate/20261120140500_remove_email_from_users.rb", "Rails reverses its change method"}},
		{name: "SQL in an execute heredoc", down: true, line: 4,
			migration: "class RemoveEmailFromUsers < ActiveRecord::Migration[7.1]\n  def up\n    execute <<~SQL\n      ALTER TABLE users DROP COLUMN email;\n    SQL\n  end\n\n  def down\n    execute <<~SQL\n      ALTER TABLE users ADD COLUMN email text;\n    SQL\n  end\nend\n",
			want: []string{"it uses users.email (app/controllers/users_controller.rb:3), dropped by db/migrate/20261120140500_remove_email_from_users.rb",
				"(its down method in db/migrate/20261120140500_remove_email_from_users.rb)"}},
		{name: "SQL in an execute string with a quoted name, after one the parser cannot read", down: true, line: 4,
			migration: "class RemoveEmailFromUsers < ActiveRecord::Migration[7.1]\n  def up\n    execute \"UPDATE users SET prefs = 'theme=>dark'::hstore WHERE\"\n    execute \"ALTER TABLE \\\"users\\\" DROP COLUMN email\"\n  end\n  def down\n  end\nend\n",
			want:      []string{"dropped by db/migrate/20261120140500_remove_email_from_users.rb"},
			note:      "db/migrate/20261120140500_remove_email_from_users.rb:3: the SQL this execute runs was not checked: "},
		{name: "SQL in an execute string", down: true,
			migration: "class RemoveEmailFromUsers < ActiveRecord::Migration[7.1]\n  def up\n    execute \"ALTER TABLE users RENAME COLUMN email TO email_address\"\n  end\n  def down\n    execute 'ALTER TABLE users RENAME COLUMN email_address TO email'\n  end\nend\n",
			want:      []string{"renamed to email_address by db/migrate/20261120140500_remove_email_from_users.rb"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRepo(t)
			r.write("db/migrate/20260101000000_create_users.rb", "class CreateUsers < ActiveRecord::Migration[7.1]\n  def change\n    create_table :users do |t|\n      t.string :email\n      t.string :nickname\n    end\n  end\nend\n")
			r.write("app/controllers/users_controller.rb", "class UsersController < ApplicationController\n  def show\n    render json: User.where(id: params[:id]).pluck(:email)\n  end\nend\n")
			r.write("db/schema.rb", "create_table \"users\" do |t|\n  t.string \"email\"\nend\n")
			target := r.commit("target")
			r.write("db/migrate/20261120140500_remove_email_from_users.rb", tt.migration)
			r.write("db/migrate/20261120150000_remove_nickname_from_users.rb", "class RemoveNicknameFromUsers < ActiveRecord::Migration[7.1]\n  def change\n    remove_column :users, :nickname, :string\n  end\nend\n")
			r.write("app/controllers/users_controller.rb", "class UsersController < ApplicationController\nend\n")
			failed := r.commit("failed")
			res, err := CheckRollback(context.Background(), RollbackCheck{Git: ExecGit{Dir: r.dir}, Migrations: []string{"db/migrate/*.rb"}, Target: target, Failed: failed})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Files) != 2 || len(res.Findings) != 1 {
				t.Fatalf("files %v findings %+v, want 2 files and the one finding about users.email (nickname is not used)", res.Files, res.Findings)
			}
			if notes := strings.Join(res.Notes, "\n"); (tt.note == "") != (notes == "") || !strings.Contains(notes, tt.note) || len(res.Notes) > 1 {
				t.Errorf("notes %q, want one saying %q", res.Notes, tt.note)
			}
			f := res.Findings[0]
			text := f.Message + " | " + f.Down
			for _, w := range tt.want {
				if !strings.Contains(text, w) {
					t.Errorf("the finding does not say %q:\n%s", w, text)
				}
			}
			line := tt.line
			if line == 0 {
				line = 3
			}
			if (f.Down != "") != tt.down || f.Table != "users" || f.Column != "email" || f.Line != line {
				t.Errorf("finding %+v, want users.email at line %d, down %v", f, line, tt.down)
			}
		})
	}
}

// What execute runs is kept on the file's own lines; SQL built at run time
// and the down method's SQL are not.
func TestRailsExecuteSQL(t *testing.T) {
	src := "class M < ActiveRecord::Migration[7.1]\n" + // 1
		"  def up\n" + // 2
		"    execute \"DROP INDEX idx_a\" # a comment\n" + // 3
		"    execute <<~'SQL'\n" + // 4
		"      ALTER TABLE users\n" + // 5
		"        DROP COLUMN email;\n" + // 6
		"    SQL\n" + // 7
		"    execute \"UPDATE users SET plan = '#{plan}'\"\n" + // 8
		"  end\n" + // 9
		"  def down\n" + // 10
		"    execute \"CREATE INDEX idx_a ON users (a)\"\n" + // 11
		"  end\n" +
		"end\n"
	m := railsRead("db/migrate/20261120140500_m.rb", src)
	var got []string
	for _, q := range m.SQL {
		lines := strings.Split(q.laidOut(), "\n")
		got = append(got, fmt.Sprintf("%d:%s", len(lines), strings.Join(strings.Fields(q.Text), " ")))
	}
	// Each piece ends on its last line of the file.
	want := []string{"3:DROP INDEX idx_a", "6:ALTER TABLE users DROP COLUMN email;"}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Errorf("SQL pieces %q, want %q (SQL built at run time, or run down, is not kept)", got, want)
	}
}

// A quoted string's escapes are undone, and => inside it is SQL, not a
// Ruby option.
func TestRubyString(t *testing.T) {
	for in, want := range map[string]string{
		`"ALTER TABLE \"order\" DROP COLUMN total"`:              `ALTER TABLE "order" DROP COLUMN total`,
		`"UPDATE users SET prefs = 'theme=>dark'::hstore", x: 1`: `UPDATE users SET prefs = 'theme=>dark'::hstore`,
		`'it''s'`:             `it`,
		`'a \'b\' \\ \n'`:     `a 'b' \ \n`,
		`"tab\tand\nnewline"`: "tab\tand\nnewline",
	} {
		if got, ok := rubyString(in); !ok || got != want {
			t.Errorf("rubyString(%s) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{`"not closed`, `:symbol`, ``} {
		if _, ok := rubyString(in); ok {
			t.Errorf("rubyString(%s) read a string", in)
		}
	}
}
