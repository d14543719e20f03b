package migrations

import (
	"strings"

	"github.com/pmguard/pmguard/internal/migrations/pgparse"
)

// relName is a relation's (table's, view's, sequence's, index's)
// schema-qualified name: what the analyzer keeps them by, so that
// audit.users is not public.users.
type relName struct{ schema, name string }

// String is how reports name the relation: unqualified in public.
func (r relName) String() string {
	if r.schema == defaultSchema {
		return r.name
	}
	return r.schema + "." + r.name
}

// colName is a column of a relation (or a constraint of a table).
type colName struct {
	rel  relName
	name string
}

func key(table relName, column string) colName { return colName{table, column} }

// defaultSchema is where unqualified names resolve with PostgreSQL's
// default search_path ("$user", public) when no schema is named after the
// migration tool's role.
const defaultSchema = "public"

// searchPath is the schemas an unqualified name resolves in, in order: the
// file's SET search_path when it is a plain list of names, else public.
func (st *fileState) searchPath() []string {
	if path := st.set().path; len(path) > 0 {
		return path
	}
	return []string{defaultSchema}
}

// searchPathOf reads SET search_path (or SET SCHEMA): a list of names is
// kept, leaving out "$user" (a schema named after the role is assumed not
// to exist) and the system schemas; DEFAULT and RESET go back to public
// (nil). Anything else (an expression, a value the parser does not give as
// a name) is not read: ok is false.
func searchPathOf(v pgparse.VariableSetArgs) (path []string, ok bool) {
	switch v.Kind {
	case "VAR_SET_DEFAULT", "VAR_RESET":
		return nil, true
	case "VAR_SET_VALUE":
	default:
		return nil, false
	}
	for _, arg := range v.Args {
		s, ok := pgparse.ConstString(arg)
		if !ok {
			return nil, false
		}
		// each value is one schema name, as written ('a, b' is one name)
		if s == "$user" || s == "pg_catalog" || strings.HasPrefix(s, "pg_temp") {
			continue
		}
		path = append(path, s)
	}
	return path, true
}

// newRel is where CREATE puts a relation: its schema, or the first schema
// of the search path.
func (st *fileState) newRel(schema, name string) relName {
	if schema != "" {
		return relName{schema, name}
	}
	return relName{st.searchPath()[0], name}
}

// rel resolves a relation name as PostgreSQL does: a qualified name is
// itself; an unqualified one is the relation of that name in the first
// schema of the search path that has one the migrations made, and
// otherwise the name in the path's first schema.
func (a *analyzer) rel(st *fileState, schema, name string) relName {
	return a.resolve(st, schema, name, func(r relName) bool {
		return a.schema.tables[r] != nil || a.schema.views[r] != nil || a.created[r]
	})
}

// rv resolves a RangeVar.
func (a *analyzer) rv(st *fileState, rv pgparse.RangeVar) relName {
	return a.rel(st, rv.Schemaname, rv.Relname)
}

// index resolves an index name among the indexes created in this change.
func (a *analyzer) index(st *fileState, schema, name string) relName {
	return a.resolve(st, schema, name, func(r relName) bool { return a.createdIndex[r] })
}

func (a *analyzer) resolve(st *fileState, schema, name string, known func(relName) bool) relName {
	if schema != "" {
		return relName{schema, name}
	}
	for _, s := range st.searchPath() {
		if r := (relName{s, name}); known(r) {
			return r
		}
	}
	return st.newRel("", name)
}

// objectRel resolves a relation named by a qualified-name list (DROP's and
// COMMENT's objects); drop leaves out that many trailing parts (the column
// of COMMENT ON COLUMN).
func (a *analyzer) objectRel(st *fileState, o pgparse.Node, drop int) (relName, bool) {
	parts := pgparse.ObjectParts(o)
	if len(parts) <= drop {
		return relName{}, false
	}
	parts = parts[:len(parts)-drop]
	schema := ""
	if len(parts) > 1 {
		schema = parts[len(parts)-2]
	}
	return a.rel(st, schema, parts[len(parts)-1]), true
}
