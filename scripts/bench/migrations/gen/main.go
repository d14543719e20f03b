// Command gen builds the git repository the migrations benchmark runs on: a
// code base of about 200,000 lines at the deployed commit (Go, Python,
// TypeScript, Ruby and SQL query files, with tests and docs), and a change of
// 50 migration files on top of it. It plants real uses of some of the
// dropped and renamed names and decoys (comments, tests, docs, other tables'
// columns of the same name) for all of them, and writes the truth to
// truth.txt so the benchmark can score what each tool reports.
//
//	go run ./scripts/bench/migrations/gen -dir /tmp/bench-repo
package main

import (
	"flag"
	"fmt"
	"log"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

var tables = []string{
	"users", "orders", "invoices", "payments", "products", "carts", "sessions", "shipments",
	"reviews", "coupons", "addresses", "refunds", "subscriptions", "plans", "teams", "projects",
	"tickets", "comments", "attachments", "webhooks", "api_keys", "audit_logs", "notifications", "devices",
	"warehouses", "suppliers", "categories", "tags", "discounts", "carriers", "returns", "wishlists",
	"messages", "threads", "reports", "exports", "imports", "jobs", "schedules", "regions",
}

// columns every table has; several are common words on purpose (status,
// name, note): a plain search for them drowns in other tables' uses.
var columns = []string{"status", "name", "note", "amount", "external_ref", "legacy_code", "display_label", "sort_key", "archived_flag"}

type gen struct {
	dir   string
	rnd   *rand.Rand
	lines int
}

func main() {
	dir := flag.String("dir", "", "directory to create the repository in (must not exist)")
	target := flag.Int("lines", 200000, "lines of code at the deployed commit")
	nmig := flag.Int("migrations", 50, "migration files in the change")
	flag.Parse()
	if *dir == "" {
		log.Fatal("-dir is required")
	}
	if _, err := os.Stat(*dir); err == nil {
		log.Fatalf("%s exists", *dir)
	}
	g := &gen{dir: *dir, rnd: rand.New(rand.NewSource(2026))}
	g.git("init", "-q", "-b", "main", g.dir)
	g.git("-C", g.dir, "config", "user.email", "bench@example.com")
	g.git("-C", g.dir, "config", "user.name", "bench")

	// The deployed commit: the schema and the code.
	var schema strings.Builder
	for _, t := range tables {
		fmt.Fprintf(&schema, "CREATE TABLE %s (\n  id bigserial PRIMARY KEY,\n  created_at timestamptz NOT NULL DEFAULT now()", t)
		for _, c := range columns {
			fmt.Fprintf(&schema, ",\n  %s text", c)
		}
		schema.WriteString("\n);\n\n")
	}
	g.write("db/migrations/000001_schema.up.sql", schema.String())
	g.write("db/migrations/000001_schema.down.sql", "-- drops everything\n")

	// The change drops or renames these; the code still uses the first
	// half of them (planted in one file each), the rest only in decoys.
	type change struct{ table, column, kind string }
	var changes []change
	perm := g.rnd.Perm(len(tables))
	for i := 0; i < 30; i++ {
		t := tables[perm[i]]
		switch {
		case i < 4:
			changes = append(changes, change{t, "", "drop-table"})
		case i < 6:
			changes = append(changes, change{t, "", "rename-table"})
		case i < 22:
			changes = append(changes, change{t, columns[(i*7)%len(columns)], "drop-column"})
		default:
			changes = append(changes, change{t, columns[(i*5)%len(columns)], "rename-column"})
		}
	}
	used := map[string]bool{}
	for i, c := range changes {
		if i%2 == 0 {
			used[c.table+"."+c.column] = true
		}
	}

	// Code: one module per table and language, repeated until the target
	// line count; each module queries its table's columns except the ones
	// the change removes (unless planted as still used).
	removed := map[string]bool{}
	for _, c := range changes {
		removed[c.table+"."+c.column] = true
	}
	langs := []string{"go", "py", "ts", "rb", "sql"}
	n := 0
	for g.lines < *target {
		t := tables[n%len(tables)]
		lang := langs[(n/len(tables))%len(langs)]
		g.module(n, t, lang, removed, used)
		n++
	}
	g.write("docs/schema.md", g.doc())
	g.git("-C", g.dir, "add", "-A")
	g.git("-C", g.dir, "commit", "-q", "-m", "deployed release")
	g.git("-C", g.dir, "tag", "v1.0.0")

	// The change: 50 migration files.
	var truth []string
	for i := 0; i < *nmig; i++ {
		version := fmt.Sprintf("%06d", i+2)
		var b strings.Builder
		b.WriteString("SET lock_timeout = '5s';\n")
		if i < len(changes) {
			c := changes[i]
			switch c.kind {
			case "drop-table":
				fmt.Fprintf(&b, "DROP TABLE %s;\n", c.table)
			case "rename-table":
				fmt.Fprintf(&b, "ALTER TABLE %s RENAME TO %s_v2;\n", c.table, c.table)
			case "drop-column":
				fmt.Fprintf(&b, "ALTER TABLE %s DROP COLUMN %s;\n", c.table, c.column)
			case "rename-column":
				fmt.Fprintf(&b, "ALTER TABLE %s RENAME COLUMN %s TO %s_v2;\n", c.table, c.column, c.column)
			}
			name := c.table
			if c.column != "" {
				name += "." + c.column
			}
			state := "unused"
			if used[c.table+"."+c.column] {
				state = "used"
			}
			truth = append(truth, fmt.Sprintf("%s %s %s", c.kind, name, state))
		} else {
			t := tables[(i*3)%len(tables)]
			fmt.Fprintf(&b, "ALTER TABLE %s ADD COLUMN extra_%d text;\n", t, i)
			fmt.Fprintf(&b, "COMMENT ON COLUMN %s.extra_%d IS 'added in %s';\n", t, i, version)
		}
		g.write(fmt.Sprintf("db/migrations/%s_change_%d.up.sql", version, i), b.String())
		g.write(fmt.Sprintf("db/migrations/%s_change_%d.down.sql", version, i), "-- down\n")
	}
	g.git("-C", g.dir, "add", "-A")
	g.git("-C", g.dir, "commit", "-q", "-m", "change with 50 migrations")
	// pack the objects, as in a clone (CircleCI's checkout)
	g.git("-C", g.dir, "repack", "-adq")
	sort.Strings(truth)
	if err := os.WriteFile(filepath.Join(g.dir, "..", filepath.Base(g.dir)+".truth.txt"), []byte(strings.Join(truth, "\n")+"\n"), 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d lines of code in %d modules at tag v1.0.0; %d migration files at HEAD; truth in %s.truth.txt\n", g.dir, g.lines, n, *nmig, g.dir)
}

func (g *gen) git(args ...string) {
	cmd := exec.Command("git", args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		log.Fatalf("git %v: %v", args, err)
	}
}

func (g *gen) write(path, content string) {
	p := filepath.Join(g.dir, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		log.Fatal(err)
	}
	g.lines += strings.Count(content, "\n")
}

func singular(t string) string {
	switch {
	case strings.HasSuffix(t, "ies"):
		return t[:len(t)-3] + "y"
	case strings.HasSuffix(t, "sses"), strings.HasSuffix(t, "ches"):
		return t[:len(t)-2]
	case strings.HasSuffix(t, "s"):
		return t[:len(t)-1]
	}
	return t
}

func camel(s string, upper bool) string {
	parts := strings.Split(s, "_")
	for i, p := range parts {
		if p == "" || (i == 0 && !upper) {
			continue
		}
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, "")
}

// module writes one file of code about table t (and its test), about 250
// lines. Columns removed by the change appear only in comments, tests and
// docs, unless planted as still used.
func (g *gen) module(n int, t, lang string, removed, used map[string]bool) {
	var live []string
	for _, c := range columns {
		if !removed[t+"."+c] || used[t+"."+c] {
			live = append(live, c)
		}
	}
	tableGone := removed[t+"."] && !used[t+"."]
	if tableGone {
		live = nil
	}
	var b strings.Builder
	dir := fmt.Sprintf("svc%02d", n%17)
	cols := strings.Join(append([]string{"id"}, live...), ", ")
	for block := 0; block < 10; block++ {
		q := fmt.Sprintf("SELECT %s FROM %s WHERE id = $1", cols, t)
		if tableGone {
			q = "SELECT 1"
		}
		switch lang {
		case "go":
			if block == 0 {
				fmt.Fprintf(&b, "package %s\n\n", dir)
			}
			fmt.Fprintf(&b, "// %s%d loads one row. Columns once used here: %s.\n", camel(singular(t), true), block, strings.Join(columns, ", "))
			fmt.Fprintf(&b, "func Get%s%d(db DB, id int64) (*%s, error) {\n", camel(singular(t), true), block, camel(singular(t), true))
			fmt.Fprintf(&b, "\trow := db.QueryRow(`%s`, id)\n", q)
			fmt.Fprintf(&b, "\tvar r %s\n", camel(singular(t), true))
			for _, c := range live {
				fmt.Fprintf(&b, "\t_ = r.%s\n", camel(c, true))
			}
			b.WriteString("\treturn &r, row.Err()\n}\n\n")
		case "py":
			fmt.Fprintf(&b, "# %s lookup %d; see docs for the columns %s\n", singular(t), block, strings.Join(columns, ", "))
			fmt.Fprintf(&b, "def get_%s_%d(conn, id):\n", singular(t), block)
			fmt.Fprintf(&b, "    row = conn.execute(\"\"\"\n        %s\n    \"\"\", (id,)).fetchone()\n", strings.ReplaceAll(q, "$1", "%s"))
			for _, c := range live {
				fmt.Fprintf(&b, "    value_%s = row[\"%s\"]\n", c, c)
			}
			b.WriteString("    return row\n\n")
		case "ts":
			fmt.Fprintf(&b, "// %s query %d (%s)\n", singular(t), block, strings.Join(columns, " "))
			fmt.Fprintf(&b, "export async function get%s%d(db: Db, id: number) {\n", camel(singular(t), true), block)
			fmt.Fprintf(&b, "  const row = await db.one('%s', [id]);\n", q)
			for _, c := range live {
				fmt.Fprintf(&b, "  const %s = row.%s;\n", camel(c, false), camel(c, false))
			}
			b.WriteString("  return row;\n}\n\n")
		case "rb":
			fmt.Fprintf(&b, "# %s finder %d. Legacy columns: %s\n", singular(t), block, strings.Join(columns, ", "))
			fmt.Fprintf(&b, "def find_%s_%d(id)\n", singular(t), block)
			fmt.Fprintf(&b, "  row = DB.exec(%q, [id])\n", q)
			for _, c := range live {
				fmt.Fprintf(&b, "  value = row.%s\n", c)
			}
			b.WriteString("end\n\n")
		case "sql":
			fmt.Fprintf(&b, "-- name: Get%s%d :one\n-- once also returned %s\n%s;\n\n", camel(singular(t), true), block, strings.Join(columns, ", "), q)
		}
	}
	ext := map[string]string{"go": ".go", "py": ".py", "ts": ".ts", "rb": ".rb", "sql": ".sql"}[lang]
	g.write(fmt.Sprintf("%s/%s/%s_%d%s", dir, lang, t, n, ext), b.String())
	// its test still names every column (tests do not run in production)
	var tb strings.Builder
	for i := 0; i < 5; i++ {
		fmt.Fprintf(&tb, "// fixture %d: SELECT %s FROM %s\n", i, strings.Join(columns, ", "), t)
		fmt.Fprintf(&tb, "var fixture%d = \"INSERT INTO %s (%s) VALUES (...)\"\n", i, t, strings.Join(columns, ", "))
	}
	testName := map[string]string{"go": "_test.go", "py": "_test.py", "ts": ".test.ts", "rb": "_spec.rb", "sql": ".test.sql"}[lang]
	g.write(fmt.Sprintf("%s/%s/tests/%s_%d%s", dir, lang, t, n, testName), tb.String())
}

func (g *gen) doc() string {
	var b strings.Builder
	b.WriteString("# Schema\n\n")
	for _, t := range tables {
		fmt.Fprintf(&b, "## %s\n\n", t)
		for _, c := range columns {
			fmt.Fprintf(&b, "- `%s.%s`\n", t, c)
		}
		b.WriteString("\n")
	}
	return b.String()
}
