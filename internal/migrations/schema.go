package migrations

import (
	"sort"
	"strings"

	"github.com/pmguard/pmguard/internal/migrations/pgparse"
)

// schemaState is what the migrations so far say about the database: the
// ones already deployed (replayed from base) and then the change's own, in
// the order they run. It is what PostgreSQL would decide a statement's cost
// by: a column already NOT NULL, a NOT NULL check already validated, a type
// change that needs no rewrite, a function's volatility.
type schemaState struct {
	tables map[relName]*tableState
	funcs  map[string]string // function name -> "immutable", "stable" or "volatile"
	// views are the views and materialized views, with what their queries
	// read: PostgreSQL keeps them bound to those tables and columns through
	// a rename.
	views map[relName]*viewState
}

// viewState is what a view's query reads.
type viewState struct {
	reads map[relName]bool // the relations it names (a CTE's name too)
	cols  map[string]bool  // the column names it names, "*" for a star
	// columns are the view's own columns, as far as its query names them
	columns []string
}

type tableState struct {
	cols map[string]*colState
	// checks are the CHECK constraints that prove columns NOT NULL
	// (col IS NOT NULL, alone or ANDed), by name.
	checks map[string]*checkState
	// keys are the PRIMARY KEY and UNIQUE constraints by name, with their
	// columns (nil when not known): what INSERT ... ON CONFLICT needs.
	keys map[string][]string
}

type colState struct {
	typ        string // unqualified type name as the parser gives it ("int4", "varchar")
	typmods    []string
	notNull    bool
	hasDefault bool
}

// checkState is a CHECK constraint that proves columns NOT NULL.
type checkState struct {
	columns []string
	valid   bool
}

func newSchema() *schemaState {
	return &schemaState{tables: map[relName]*tableState{}, funcs: map[string]string{}, views: map[relName]*viewState{}}
}

func (s *schemaState) table(name relName) *tableState {
	t := s.tables[name]
	if t == nil {
		t = &tableState{}
		t.reset()
		s.tables[name] = t
	}
	return t
}

// reset forgets everything about the table (it is created anew).
func (t *tableState) reset() {
	t.cols, t.checks, t.keys = map[string]*colState{}, map[string]*checkState{}, map[string][]string{}
}

// move follows a table or view to its new name (RENAME, SET SCHEMA), and
// the views that read it follow too.
func (s *schemaState) move(from, to relName) {
	if t := s.tables[from]; t != nil {
		s.tables[to] = t
		delete(s.tables, from)
	}
	if v := s.views[from]; v != nil {
		s.views[to] = v
		delete(s.views, from)
	}
	for _, v := range s.views {
		if v.reads[from] {
			delete(v.reads, from)
			v.reads[to] = true
		}
	}
}

// viewsReading names the views whose query reads table (and, when column
// is set, names that column or a star), sorted.
func (s *schemaState) viewsReading(table relName, column string) []string {
	var out []string
	for name, v := range s.views {
		if v.reads[table] && (column == "" || v.cols[column] || v.cols["*"]) {
			out = append(out, name.String())
		}
	}
	sort.Strings(out)
	return out
}

// dropSchema forgets the tables of a dropped schema.
func (s *schemaState) dropSchema(schema string) {
	for r := range s.tables {
		if r.schema == schema {
			delete(s.tables, r)
		}
	}
	for r := range s.views {
		if r.schema == schema {
			delete(s.views, r)
		}
	}
}

// col returns what is known of table.column, nil when nothing is.
func (s *schemaState) col(table relName, column string) *colState {
	if t := s.tables[table]; t != nil {
		return t.cols[column]
	}
	return nil
}

// validNotNullCheck reports whether table has a validated CHECK that
// proves column NOT NULL, leaving out the constraints in except (dropped by
// the same ALTER TABLE, which PostgreSQL does before it sets NOT NULL).
func (s *schemaState) validNotNullCheck(table relName, column string, except map[string]bool) bool {
	if t := s.tables[table]; t != nil {
		for name, c := range t.checks {
			if c.valid && !except[name] && contains(c.columns, column) {
				return true
			}
		}
	}
	return false
}

// columnFrom reads a column definition.
func columnFrom(def pgparse.ColumnDef) *colState {
	c := &colState{typ: strings.ToLower(def.TypeName.Name()), notNull: def.IsNotNull, hasDefault: def.RawDefault.Type != "" && !pgparse.IsNull(def.RawDefault)}
	c.typmods = typmods(def.TypeName)
	for _, k := range pgparse.Constraints(def.Constraints) {
		switch k.Contype {
		case "CONSTR_NOTNULL", "CONSTR_PRIMARY":
			c.notNull = true
		case "CONSTR_DEFAULT":
			c.hasDefault = c.hasDefault || !pgparse.IsNull(k.RawExpr)
		case "CONSTR_IDENTITY", "CONSTR_GENERATED":
			c.hasDefault = true
		}
	}
	if strings.Contains(c.typ, "serial") {
		c.hasDefault, c.notNull = true, true
	}
	return c
}

func typmods(t pgparse.TypeName) []string {
	var out []string
	for _, m := range t.Typmods {
		if v, ok := pgparse.ConstString(m); ok {
			out = append(out, v)
		}
	}
	return out
}

// noRewrite reports whether ALTER COLUMN ... TYPE from old to the new type
// is one PostgreSQL does without rewriting the table or its indexes (a
// binary-coercible change that does not shorten a length limit).
func noRewrite(old *colState, typ string, mods []string) bool {
	if old == nil {
		return false
	}
	same := old.typ == typ
	switch {
	case same && len(mods) == 0 && (typ == "varchar" || typ == "numeric"):
		return true // the limit removed
	case same && strings.Join(old.typmods, ",") == strings.Join(mods, ","):
		return true // nothing changes
	case same && typ == "varchar" && len(old.typmods) == 1 && len(mods) == 1:
		return atoi(mods[0]) >= atoi(old.typmods[0])
	case same && typ == "numeric" && len(old.typmods) == 2 && len(mods) == 2:
		return old.typmods[1] == mods[1] && atoi(mods[0]) >= atoi(old.typmods[0])
	case old.typ == "varchar" && typ == "text", old.typ == "text" && typ == "varchar" && len(mods) == 0:
		return true
	case old.typ == "cidr" && typ == "inet":
		return true
	}
	return false
}

func atoi(s string) int {
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return -1
		}
		n = n*10 + int(r-'0')
	}
	return n
}

// typeText is how a report names a column type ("varchar(20)").
func typeText(typ string, mods []string) string {
	if len(mods) == 0 {
		return typ
	}
	return typ + "(" + strings.Join(mods, ",") + ")"
}
