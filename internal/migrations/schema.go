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
	// indexes are the named indexes, with their table and key columns
	// (nil when a key is an expression): what ADD CONSTRAINT ... USING
	// INDEX makes a key of.
	indexes map[relName]*indexState
	// domainConstraints are each domain's constraints by name (NOT NULL as
	// "NOT NULL"), unqualified: a column of a domain with any of them is
	// checked on every row when it is added.
	domainConstraints map[string]map[string]bool
}

type indexState struct {
	table relName
	cols  []string
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
	collation  string // as COLLATE names it, "" for the type's default
}

// checkState is a CHECK constraint that proves columns NOT NULL.
type checkState struct {
	columns []string
	valid   bool
}

func newSchema() *schemaState {
	return &schemaState{tables: map[relName]*tableState{}, funcs: map[string]string{}, views: map[relName]*viewState{}, indexes: map[relName]*indexState{}, domainConstraints: map[string]map[string]bool{}}
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
	for name, ix := range s.indexes {
		if ix.table == from {
			// an index lives in its table's schema, and follows it
			ix.table = to
			delete(s.indexes, name)
			s.indexes[relName{to.schema, name.name}] = ix
		}
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

// indexesOn names the indexes known to have column as a key: named
// indexes and the PRIMARY KEY and UNIQUE constraints' own, sorted.
func (s *schemaState) indexesOn(table relName, column string) []string {
	var out []string
	for name, ix := range s.indexes {
		if ix.table == table && contains(ix.cols, column) {
			out = append(out, name.name)
		}
	}
	if t := s.tables[table]; t != nil {
		for name, cols := range t.keys {
			if contains(cols, column) && !contains(out, name) {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
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
	c := &colState{typ: typeName(def.TypeName), notNull: def.IsNotNull, hasDefault: def.RawDefault.Type != "" && !pgparse.IsNull(def.RawDefault)}
	c.typmods, c.collation = typmods(def.TypeName), def.Collation()
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

// typeName is a column type's unqualified name, lower case, with "[]" for
// an array ("varchar[]").
func typeName(t pgparse.TypeName) string {
	name := strings.ToLower(t.Name())
	if len(t.ArrayBounds) > 0 {
		name += "[]"
	}
	return name
}

// intervalFields names interval's field masks ("32767" is all of them).
var intervalFields = map[string]string{
	"4": "year", "2": "month", "8": "day", "1024": "hour", "2048": "minute", "4096": "second", "6": "year to month",
	"1032": "day to hour", "3080": "day to minute", "7176": "day to second", "3072": "hour to minute",
	"7168": "hour to second", "6144": "minute to second",
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
// is one PostgreSQL does without rewriting the table or its indexes: the
// same type, or a binary-coercible one, whose limit or precision is kept or
// raised (the types' length-coercion support functions say so; measured on
// PostgreSQL 15). Lowering a limit or a precision checks or rounds every
// value: a rewrite. Arrays are rewritten unless nothing changes.
func noRewrite(old *colState, typ string, mods []string) bool {
	if old == nil {
		return false
	}
	same := old.typ == typ
	switch {
	case same && strings.Join(old.typmods, ",") == strings.Join(mods, ","):
		return true // nothing changes
	case strings.HasSuffix(old.typ, "[]") || strings.HasSuffix(typ, "[]"):
		return false
	case same && widens(typ, old.typmods, mods):
		return true
	case old.typ == "varchar" && typ == "text", old.typ == "text" && typ == "varchar" && len(mods) == 0:
		return true
	case old.typ == "cidr" && typ == "inet":
		return true
	}
	return false
}

// widens reports whether a type's new modifiers keep or raise what the old
// ones allow, for the types whose length coercion PostgreSQL skips then:
// varchar and varbit (length), numeric (precision, the scale unchanged),
// timestamp, timestamptz, time and timetz (fractional-second precision, 6
// at most), interval (precision, the fields unchanged). No modifier is the
// widest.
func widens(typ string, old, mods []string) bool {
	switch typ {
	case "varchar", "varbit":
		return len(mods) == 0 || len(old) == 1 && len(mods) == 1 && atoi(mods[0]) >= atoi(old[0])
	case "numeric":
		if len(mods) == 0 {
			return true
		}
		old, mods = withScale(old), withScale(mods)
		return len(old) == 2 && len(mods) == 2 && old[1] == mods[1] && atoi(mods[0]) >= atoi(old[0])
	case "timestamp", "timestamptz", "time", "timetz":
		return len(mods) == 0 || len(mods) == 1 && (atoi(mods[0]) >= 6 || len(old) == 1 && atoi(mods[0]) >= atoi(old[0]))
	case "interval":
		// as interval_support: the least field (SECOND ... YEAR) stays or
		// gets finer, and the precision stays or rises where it counts
		if len(mods) == 0 {
			return true
		}
		oldLeast, oldPrec := intervalMods(old)
		newLeast, newPrec := intervalMods(mods)
		return newLeast <= oldLeast && (oldLeast > 0 || newPrec >= 6 || newPrec >= oldPrec)
	}
	return false
}

// intervalMods reads interval's modifiers, the fields as a bit mask and
// the precision: the least field (0 SECOND, 1 MINUTE, 2 HOUR, 3 DAY, 4
// MONTH, 5 YEAR) and the precision (1<<16 when not limited).
func intervalMods(mods []string) (least, precision int) {
	mask, precision := 32767, 1<<16
	if len(mods) > 0 {
		mask = atoi(mods[0])
	}
	if len(mods) > 1 {
		precision = atoi(mods[1])
	}
	least = 5
	for i, bit := range []int{12, 11, 10, 3, 1} { // SECOND, MINUTE, HOUR, DAY, MONTH
		if mask >= 0 && mask&(1<<bit) != 0 {
			least = i
			break
		}
	}
	return least, precision
}

// withScale gives numeric(p) its scale, 0.
func withScale(mods []string) []string {
	if len(mods) == 1 {
		return []string{mods[0], "0"}
	}
	return mods
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
	base, array := strings.CutSuffix(typ, "[]")
	text := base + "(" + strings.Join(mods, ",") + ")"
	if base == "interval" {
		// the fields' bit mask first, then the precision: interval day to second(2)
		text = base
		if f := intervalFields[mods[0]]; f != "" {
			text += " " + f
		}
		if len(mods) > 1 {
			text += "(" + mods[1] + ")"
		}
	}
	if array {
		text += "[]"
	}
	return text
}
