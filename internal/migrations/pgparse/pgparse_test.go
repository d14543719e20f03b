package pgparse

import (
	"errors"
	"sort"
	"strings"
	"testing"
)

func TestParseStatementsAndSpans(t *testing.T) {
	src := "-- leading\nALTER TABLE users DROP COLUMN legacy;\n\nCREATE INDEX CONCURRENTLY i ON users (email);"
	stmts, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(stmts) != 2 {
		t.Fatalf("got %d statements, want 2", len(stmts))
	}
	if got := stmts[0].Text(src); got != "ALTER TABLE users DROP COLUMN legacy" {
		t.Errorf("first statement text %q", got)
	}
	if got := stmts[1].Text(src); got != "CREATE INDEX CONCURRENTLY i ON users (email)" {
		t.Errorf("second statement text %q", got)
	}
	var at AlterTableStmt
	if stmts[0].Node.Type != "AlterTableStmt" || !stmts[0].Node.Into(&at) {
		t.Fatalf("first node %s", stmts[0].Node.Type)
	}
	if at.Relation.Relname != "users" || len(at.Cmds) != 1 {
		t.Fatalf("alter table %+v", at)
	}
	var cmd AlterTableCmd
	if !at.Cmds[0].Into(&cmd) || cmd.Subtype != "AT_DropColumn" || cmd.Name != "legacy" {
		t.Fatalf("cmd %+v", cmd)
	}
	var ix IndexStmt
	if !stmts[1].Node.Into(&ix) || !ix.Concurrent || ix.Relation.Relname != "users" {
		t.Fatalf("index %+v", ix)
	}
}

func TestParseErrorOffset(t *testing.T) {
	src := "SELECT 1;\nALTER TABLE ünïcode DROP COLUMN;"
	_, err := Parse(src)
	var pe *Error
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T), want *Error", err, err)
	}
	if !strings.Contains(pe.Message, "syntax error") {
		t.Errorf("message %q", pe.Message)
	}
	if pe.Offset != strings.Index(src, ";\n")+len(";\n")+len("ALTER TABLE ünïcode DROP COLUMN") {
		t.Errorf("offset %d points at %q", pe.Offset, src[pe.Offset:])
	}
}

func TestParseRejectsNUL(t *testing.T) {
	_, err := Parse("SELECT 1;\x00 DROP TABLE x")
	var pe *Error
	if !errors.As(err, &pe) || pe.Offset != 9 {
		t.Fatalf("got %v", err)
	}
}

func TestDropStmtNames(t *testing.T) {
	stmts, err := Parse(`DROP TABLE IF EXISTS public.users, "Orders" CASCADE`)
	if err != nil {
		t.Fatal(err)
	}
	var d DropStmt
	if !stmts[0].Node.Into(&d) {
		t.Fatal("not a drop")
	}
	if got := strings.Join(d.ObjectNames(), ","); got != "users,Orders" || d.RemoveType != "OBJECT_TABLE" {
		t.Fatalf("names %q type %s", got, d.RemoveType)
	}
	// DROP TYPE names its objects as TypeName nodes
	stmts, err = Parse(`DROP TYPE mood, public.address`)
	if err != nil || !stmts[0].Node.Into(&d) {
		t.Fatal(err)
	}
	if got := strings.Join(d.ObjectNames(), ","); got != "mood,address" {
		t.Fatalf("type names %q", got)
	}
}

func TestContains(t *testing.T) {
	stmts, err := Parse("SELECT * FROM users WHERE id = $1")
	if err != nil {
		t.Fatal(err)
	}
	if !stmts[0].Node.Contains("ParamRef") {
		t.Error("ParamRef not found")
	}
	if stmts[0].Node.Contains("FuncCall") {
		t.Error("FuncCall found in a query without one")
	}
}

func TestStripLeadingComments(t *testing.T) {
	for in, want := range map[string]string{
		"  -- a\n/* b /* nested */ */ SELECT 1": "SELECT 1",
		"-- only":                               "",
		"/* open":                               "",
		"SELECT 1 -- trailing":                  "SELECT 1 -- trailing",
	} {
		if got := StripLeadingComments(in); got != want {
			t.Errorf("StripLeadingComments(%q) = %q, want %q", in, got, want)
		}
	}
}

// The relations and columns a query reads are found at any depth (the
// view's own name is a field, not a RangeVar node).
func TestDescendants(t *testing.T) {
	stmts, err := Parse("CREATE VIEW v AS SELECT u.id, email, o.* FROM users u JOIN orgs o ON o.id = u.org_id WHERE EXISTS (SELECT 1 FROM bans b WHERE b.uid = u.id)")
	if err != nil {
		t.Fatal(err)
	}
	var rels []string
	for _, rv := range RangeVars(stmts[0].Node.Descendants("RangeVar")) {
		rels = append(rels, rv.Relname)
	}
	sort.Strings(rels)
	if strings.Join(rels, ",") != "bans,orgs,users" {
		t.Errorf("relations %v", rels)
	}
	cols := stmts[0].Node.ColumnRefNames()
	sort.Strings(cols)
	if strings.Join(cols, ",") != "*,email,id,id,id,org_id,uid" {
		t.Errorf("columns %v", cols)
	}
}
