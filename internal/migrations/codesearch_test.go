package migrations

import (
	"sort"
	"strconv"
	"strings"
	"testing"
)

func hitLines(hits []Hit) string {
	var out []string
	for _, h := range hits {
		out = append(out, h.File+":"+strconv.Itoa(h.Line)+":"+h.Kind)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func TestFileHitsColumn(t *testing.T) {
	col := target{table: "users", column: "legacy_name"}
	cases := []struct {
		file, src string
		want      string
	}{
		{"store/users.go", "package store\n// legacy_name is old\nconst q = `SELECT legacy_name FROM users`\n", "store/users.go:3:string"},
		{"store/user.go", "type User struct {\n\tLegacyName string\n}\n", "store/user.go:2:field"},
		{"store/user.go", "type User struct {\n\tName string `db:\"legacy_name\"`\n}\n", "store/user.go:2:string"},
		// the file never names the users table: an unrelated legacy_name
		{"billing/invoice.go", "const q = `SELECT legacy_name FROM invoices`\n", ""},
		{"app/models/user.rb", "class User < ApplicationRecord\n  # legacy_name\n  def n = legacy_name\nend\n", "app/models/user.rb:3:code"},
		{"app/users.py", "class User(Model):\n    legacy_name = Column(String)  # legacy_name\n", "app/users.py:2:code"},
		{"web/user.ts", "interface User { legacyName: string } // legacy_name\n", "web/user.ts:1:field"},
		{"queries/users.sql", "-- name: GetUser\nSELECT id, legacy_name FROM users WHERE note = 'legacy_name';\n", "queries/users.sql:2:sql"},
		{"config/users.yml", "# legacy_name\nusers:\n  columns: [legacy_name]\n", "config/users.yml:3:sql"},
		// ORM declarations that tell the code to ignore the column
		{"app/models/user.rb", "class User < ApplicationRecord\n  self.ignored_columns += [\"legacy_name\"]\nend\n", "app/models/user.rb:2:orm-ignored"},
		{"app/models/user.rb", "class User < ApplicationRecord\n  self.ignored_columns = %w[\n    legacy_name\n  ]\n  def n = legacy_name\nend\n", "app/models/user.rb:3:orm-ignored app/models/user.rb:5:code"},
		{"app/models.py", "class User(Base):\n    __tablename__ = \"users\"\n    __mapper_args__ = {\"exclude_properties\": [\"legacy_name\"]}\n", "app/models.py:3:orm-ignored"},
		{"app/models.py", "class User(Base):\n    __tablename__ = \"users\"\n    legacy_name = deferred(Column(String))\n", "app/models.py:3:orm-ignored"},
		{"app/models.py", "class User(Base):\n    __tablename__ = \"users\"\n    legacy_name = mapped_column(String, deferred=True)\n", "app/models.py:3:orm-ignored"},
		// Django's db_column maps a field to the column: a use
		{"app/models.py", "class User(models.Model):\n    name = models.TextField(db_column=\"legacy_name\")\n", "app/models.py:2:string"},
		// ... and a field named legacy_name stored in another column is not
		{"app/models.py", "class User(models.Model):\n    legacy_name = models.TextField(db_column=\"name\")\n", "app/models.py:2:orm-mapped"},
		{"app/models.py", "class User(models.Model):\n    legacy_name = models.TextField(\n        null=True,\n        db_column='full_name',\n    )\n    def n(self): return self.legacy_name\n", "app/models.py:2:orm-mapped app/models.py:6:code"},
		{"app/models.py", "class User(models.Model):\n    legacy_name = models.TextField(db_column=\"legacy_name\")\n", "app/models.py:2:code"},
		// django-deprecate-fields: the model no longer queries the column
		{"app/models.py", "class User(models.Model):\n    legacy_name = deprecate_field(models.TextField(null=True))\n", "app/models.py:2:orm-ignored"},
		{"app/models.py", "class User(models.Model):\n    legacy_name = deprecate_field(\n        models.TextField(null=True),\n        return_instead='',\n    )\n", "app/models.py:2:orm-ignored"},
		// a prefix or suffix of a longer identifier is not a use
		{"store/users.go", "const q = `SELECT legacy_name_v2 FROM users`\n", ""},
	}
	for _, c := range cases {
		hits := map[target][]Hit{}
		fileHits(c.file, c.src, []target{col}, hits)
		if got := hitLines(hits[col]); got != c.want {
			t.Errorf("%s: hits %q, want %q", c.file, got, c.want)
		}
	}
}

// Django's default table name is <app label>_<model>: a model of the app
// directory names its table, the same class elsewhere does not.
func TestFileHitsDjangoDefaultTable(t *testing.T) {
	col := target{table: "accounts_customer", column: "legacy_name"}
	for file, want := range map[string]string{
		"src/accounts/models.py":     "src/accounts/models.py:2:code",
		"src/accounts/models/crm.py": "src/accounts/models/crm.py:2:code",
		"src/billing/models.py":      "",
		"src/accounts/models/crm.rb": "",
		"src/accounts_customer/x.py": "",
	} {
		hits := map[target][]Hit{}
		fileHits(file, "class Customer(models.Model):\n    legacy_name = models.TextField()\n", []target{col}, hits)
		if got := hitLines(hits[col]); got != want {
			t.Errorf("%s: hits %q, want %q", file, got, want)
		}
	}
}

// A managed = False model still queries its columns: a use, with a note.
func TestFileHitsDjangoUnmanagedModel(t *testing.T) {
	col := target{table: "users", column: "legacy_name"}
	src := "class User(models.Model):\n    legacy_name = models.TextField()\n\n    class Meta:\n        managed = False\n        db_table = \"users\"\n"
	hits := map[target][]Hit{}
	fileHits("app/models.py", src, []target{col}, hits)
	if len(hits[col]) != 1 || hits[col][0].Kind != "code" || hits[col][0].Note != noteDjangoUnmanaged {
		t.Fatalf("hits %+v", hits[col])
	}
	hits = map[target][]Hit{}
	fileHits("app/models.py", strings.Replace(src, "managed = False", "managed = True", 1), []target{col}, hits)
	if len(hits[col]) != 1 || hits[col][0].Note != "" {
		t.Fatalf("managed model: hits %+v", hits[col])
	}
}

func TestFileHitsTable(t *testing.T) {
	tbl := target{table: "sessions"}
	cases := []struct {
		file, src string
		want      string
	}{
		{"store/s.go", "sessions := load()\n// sessions table\nq := \"DELETE FROM sessions\"\n", "store/s.go:3:string"},
		{"app/models/session.rb", "class Session\n  self.table_name = 'sessions'\nend\n", "app/models/session.rb:2:string"},
		{"q.sql", "SELECT * FROM sessions;\n", "q.sql:1:sql"},
		{"q.sql", "SELECT 'sessions';\n", ""},
	}
	for _, c := range cases {
		hits := map[target][]Hit{}
		fileHits(c.file, c.src, []target{tbl}, hits)
		if got := hitLines(hits[tbl]); got != c.want {
			t.Errorf("%s: hits %q, want %q", c.file, got, c.want)
		}
	}
}

func TestHitQuotesTheLine(t *testing.T) {
	hits := map[target][]Hit{}
	tg := target{table: "users", column: "email"}
	fileHits("a.go", "package a\n\n\t\tq := \"SELECT email FROM users\"   \n", []target{tg}, hits)
	if len(hits[tg]) != 1 || hits[tg][0].Line != 3 || hits[tg][0].Text != `q := "SELECT email FROM users"` {
		t.Fatalf("hits %+v", hits[tg])
	}
}

func TestSingular(t *testing.T) {
	for in, want := range map[string]string{"users": "user", "categories": "category", "addresses": "address", "boxes": "box", "status": "", "access": "", "person": ""} {
		if got := singular(in); got != want {
			t.Errorf("singular(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPathspecs(t *testing.T) {
	got := strings.Join(pathspecs([]string{".", "src/**/*.go", "./lib"}, []string{"**/*_test.go"}), " ")
	want := ":(top) :(top,glob)src/**/*.go :(top,literal)lib :(top,exclude,glob)**/*_test.go"
	if got != want {
		t.Errorf("pathspecs %q, want %q", got, want)
	}
}
