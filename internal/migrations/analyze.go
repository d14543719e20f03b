package migrations

import (
	"strings"

	"github.com/pmguard/pmguard/internal/migrations/pgparse"
)

// statement is one parsed statement of a migration file.
type statement struct {
	stmt pgparse.Stmt
	line int    // 1-based line of its first token
	text string // its source, whitespace collapsed
	// allows are the pmguard:allow overrides written on it.
	allows []*override
}

// parsedFile is a migration file with its statements.
type parsedFile struct {
	*Migration
	stmts []statement
}

// analyzer applies the rules to the statements of the changed migrations,
// in the order they run. It remembers what earlier statements created, so
// that work on a table created in the same change (which no running release
// can use yet) is not reported.
type analyzer struct {
	pgMajor       int
	created       map[string]bool   // tables and views created in this change
	addedColumns  map[string]bool   // "table.column" added in this change
	createdIndex  map[string]bool   // indexes created in this change
	notNullChecks map[string]string // "table.constraint" of CHECK (col IS NOT NULL) NOT VALID -> column
	validNotNull  map[string]bool   // "table.column" with a validated IS NOT NULL check
	findings      []Finding
}

func newAnalyzer(pgMajor int) *analyzer {
	return &analyzer{
		pgMajor:       pgMajor,
		created:       map[string]bool{},
		addedColumns:  map[string]bool{},
		createdIndex:  map[string]bool{},
		notNullChecks: map[string]string{},
		validNotNull:  map[string]bool{},
	}
}

// fileState is what the rules track within one file (one session).
type fileState struct {
	f           *parsedFile
	toolTx      bool // the tool wraps the file in a transaction
	explicitTx  bool // inside BEGIN ... COMMIT written in the file
	lockTimeout bool // SET lock_timeout ran earlier in the file
	warnedLock  bool
}

func (a *analyzer) file(f *parsedFile) {
	st := &fileState{f: f}
	st.toolTx = f.tx == txWhole || (f.tx == txIfMany && len(f.stmts) > 1)
	for i := range f.stmts {
		a.statement(st, &f.stmts[i])
	}
}

func (a *analyzer) add(st *fileState, s *statement, fd Finding) {
	fd.File = st.f.Path
	fd.Line = s.line
	fd.Statement = s.text
	fd.stmt = s
	a.findings = append(a.findings, fd)
}

func key(table, column string) string { return table + "." + column }

// existing reports whether a table is one the running release may use: not
// created earlier in this change.
func (a *analyzer) existing(table string) bool { return !a.created[table] }

func (a *analyzer) statement(st *fileState, s *statement) {
	n := s.stmt.Node
	inTx := st.toolTx || st.explicitTx
	locks := "" // an existing table this statement locks ACCESS EXCLUSIVE
	switch n.Type {
	case "CreateStmt":
		var c pgparse.CreateStmt
		if n.Into(&c) {
			a.created[c.Relation.Relname] = true
		}
	case "ViewStmt":
		var v struct {
			View pgparse.RangeVar `json:"view"`
		}
		if n.Into(&v) {
			a.created[v.View.Relname] = true
		}
	case "AlterTableStmt":
		var at pgparse.AlterTableStmt
		if !n.Into(&at) || (at.Objtype != "OBJECT_TABLE" && at.Objtype != "OBJECT_FOREIGN_TABLE") {
			break
		}
		table := at.Relation.Relname
		if a.existing(table) {
			locks = table
		}
		for _, c := range at.Cmds {
			var cmd pgparse.AlterTableCmd
			if c.Into(&cmd) {
				a.alterTable(st, s, table, cmd)
			}
		}
	case "RenameStmt":
		var r pgparse.RenameStmt
		if !n.Into(&r) || r.Relation == nil {
			break
		}
		table := r.Relation.Relname
		switch r.RenameType {
		case "OBJECT_COLUMN":
			if a.existing(table) && !a.addedColumns[key(table, r.Subname)] {
				fd := newFinding(RuleRenameColumn)
				fd.Table, fd.Column, fd.NewName = table, r.Subname, r.Newname
				a.add(st, s, fd)
			}
		case "OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE":
			if a.existing(table) {
				fd := newFinding(RuleRenameTable)
				fd.Table, fd.NewName = table, r.Newname
				if r.RenameType != "OBJECT_TABLE" {
					fd.Detail = "a " + objectWord(r.RenameType) + " is renamed"
				}
				a.add(st, s, fd)
			} else {
				a.created[r.Newname] = true
			}
		}
		if a.existing(table) {
			locks = table
		}
	case "DropStmt":
		var d pgparse.DropStmt
		if !n.Into(&d) {
			break
		}
		switch d.RemoveType {
		case "OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE":
			for _, name := range d.ObjectNames() {
				if !a.existing(name) {
					continue
				}
				fd := newFinding(RuleDropTable)
				fd.Table = name
				if d.RemoveType != "OBJECT_TABLE" {
					fd.Detail = "a " + objectWord(d.RemoveType) + " is dropped"
				}
				a.add(st, s, fd)
				locks = name
			}
		case "OBJECT_INDEX":
			if d.Concurrent {
				if inTx {
					a.add(st, s, a.txFinding(st, "DROP INDEX CONCURRENTLY"))
				}
				break
			}
			for _, name := range d.ObjectNames() {
				if !a.createdIndex[name] {
					fd := newFinding(RuleDropIndexConcurrent)
					fd.Detail = "index " + name
					a.add(st, s, fd)
					break
				}
			}
		case "OBJECT_SCHEMA":
			fd := newFinding(RuleDropSchema)
			fd.Detail = "schema " + strings.Join(d.ObjectNames(), ", ")
			a.add(st, s, fd)
		}
	case "DropdbStmt":
		var d pgparse.DropdbStmt
		n.Into(&d)
		fd := newFinding(RuleDropSchema)
		fd.Detail = "database " + d.Dbname
		a.add(st, s, fd)
	case "IndexStmt":
		var ix pgparse.IndexStmt
		if !n.Into(&ix) {
			break
		}
		a.createdIndex[ix.Idxname] = true
		if ix.Concurrent {
			if inTx {
				a.add(st, s, a.txFinding(st, "CREATE INDEX CONCURRENTLY"))
			}
			break
		}
		if a.existing(ix.Relation.Relname) {
			fd := newFinding(RuleIndexConcurrently)
			if ix.Unique {
				fd.Detail = "a unique index: CREATE UNIQUE INDEX CONCURRENTLY"
			}
			a.add(st, s, fd)
		}
	case "ReindexStmt":
		var r pgparse.ReindexStmt
		if !n.Into(&r) {
			break
		}
		if contains(pgparse.DefNames(r.Params), "concurrently") {
			if inTx {
				a.add(st, s, a.txFinding(st, "REINDEX CONCURRENTLY"))
			}
			break
		}
		if r.Relation == nil || a.existing(r.Relation.Relname) {
			a.add(st, s, newFinding(RuleReindexConcurrently))
		}
	case "TruncateStmt":
		var t pgparse.TruncateStmt
		if !n.Into(&t) {
			break
		}
		for _, rel := range t.Relations {
			var rv pgparse.RangeVar
			if rel.Into(&rv) && a.existing(rv.Relname) {
				fd := newFinding(RuleTruncate)
				fd.Detail = "table " + rv.Relname
				a.add(st, s, fd)
				locks = rv.Relname
				break
			}
		}
	case "AlterEnumStmt":
		var e pgparse.AlterEnumStmt
		if !n.Into(&e) {
			break
		}
		typ := pgparse.LastString(e.TypeName)
		if e.OldVal != "" {
			fd := newFinding(RuleRenameEnumValue)
			fd.Detail = "type " + typ + ": '" + e.OldVal + "' -> '" + e.NewVal + "'"
			a.add(st, s, fd)
		} else if a.pgMajor < 12 && inTx {
			fd := newFinding(RuleEnumValueInTx)
			fd.Detail = "type " + typ + a.txDetail(st)
			a.add(st, s, fd)
		}
	case "VacuumStmt":
		var v pgparse.VacuumStmt
		if n.Into(&v) && v.IsVacuumcmd && contains(pgparse.DefNames(v.Options), "full") {
			fd := newFinding(RuleTableRewrite)
			fd.Detail = "VACUUM FULL"
			a.add(st, s, fd)
		}
	case "ClusterStmt":
		fd := newFinding(RuleTableRewrite)
		fd.Detail = "CLUSTER"
		a.add(st, s, fd)
	case "TransactionStmt":
		var t pgparse.TransactionStmt
		n.Into(&t)
		switch t.Kind {
		case "TRANS_STMT_BEGIN", "TRANS_STMT_START":
			st.explicitTx = true
		case "TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK", "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED", "TRANS_STMT_PREPARE":
			st.explicitTx = false
		}
	case "VariableSetStmt":
		var v pgparse.VariableSetStmt
		if n.Into(&v) && strings.EqualFold(v.Name, "lock_timeout") && v.Kind == "VAR_SET_VALUE" {
			st.lockTimeout = true
		}
	}
	if locks != "" && !st.lockTimeout && !st.warnedLock {
		st.warnedLock = true
		fd := newFinding(RuleLockTimeout)
		fd.Detail = "table " + locks
		a.add(st, s, fd)
	}
}

// txFinding reports a statement that cannot run in the transaction around it.
func (a *analyzer) txFinding(st *fileState, what string) Finding {
	fd := newFinding(RuleConcurrentlyInTx)
	fd.Detail = what + a.txDetail(st)
	if !st.explicitTx && st.f.txFix != "" {
		fd.Safe = st.f.txFix
	}
	return fd
}

func (a *analyzer) txDetail(st *fileState) string {
	if st.explicitTx {
		return " inside BEGIN ... COMMIT written in the file"
	}
	return " in a file that " + string(st.f.Format) + " runs in one transaction"
}

func (a *analyzer) alterTable(st *fileState, s *statement, table string, cmd pgparse.AlterTableCmd) {
	existing := a.existing(table)
	col := cmd.Name
	fresh := !existing || a.addedColumns[key(table, col)]
	switch cmd.Subtype {
	case "AT_AddColumn":
		var def pgparse.ColumnDef
		if !cmd.Def.Into(&def) {
			return
		}
		a.addedColumns[key(table, def.Colname)] = true
		if existing {
			a.addColumn(st, s, table, def)
		}
	case "AT_DropColumn":
		if !fresh {
			fd := newFinding(RuleDropColumn)
			fd.Table, fd.Column = table, col
			a.add(st, s, fd)
		}
	case "AT_AlterColumnType":
		if fresh {
			return
		}
		fd := newFinding(RuleChangeColumnType)
		fd.Table, fd.Column = table, col
		var def pgparse.ColumnDef
		if cmd.Def.Into(&def) {
			typ := def.TypeName.Name()
			fd.Detail = "column " + col + " becomes " + typ
			if (typ == "text" || typ == "varchar") && len(def.TypeName.Typmods) == 0 && def.RawDefault.Type == "" {
				fd.Severity = Warning
				fd.Detail += ": safe (no rewrite) only if the column is already varchar or text; otherwise the table is rewritten"
			}
		}
		a.add(st, s, fd)
	case "AT_SetNotNull":
		if fresh {
			return
		}
		if a.validNotNull[key(table, col)] && a.pgMajor >= 12 {
			return
		}
		fd := newFinding(RuleSetNotNull)
		fd.Table, fd.Column = table, col
		a.add(st, s, fd)
	case "AT_DropNotNull":
		if !fresh {
			fd := newFinding(RuleDropNotNull)
			fd.Table, fd.Column = table, col
			a.add(st, s, fd)
		}
	case "AT_ColumnDefault":
		if cmd.Def.Type == "" && !fresh {
			fd := newFinding(RuleDropDefault)
			fd.Table, fd.Column = table, col
			a.add(st, s, fd)
		}
	case "AT_AddConstraint":
		var c pgparse.Constraint
		if !cmd.Def.Into(&c) {
			return
		}
		if c.Contype == "CONSTR_CHECK" && c.SkipValidation {
			if col := notNullColumn(c.RawExpr); col != "" && c.Conname != "" {
				a.notNullChecks[key(table, c.Conname)] = col
			}
		}
		if existing {
			a.constraint(st, s, c, "")
		}
	case "AT_ValidateConstraint":
		if col, ok := a.notNullChecks[key(table, cmd.Name)]; ok {
			a.validNotNull[key(table, col)] = true
		}
	case "AT_SetLogged", "AT_SetUnLogged", "AT_SetTableSpace":
		if existing {
			fd := newFinding(RuleTableRewrite)
			fd.Detail = map[string]string{"AT_SetLogged": "SET LOGGED", "AT_SetUnLogged": "SET UNLOGGED", "AT_SetTableSpace": "SET TABLESPACE"}[cmd.Subtype]
			a.add(st, s, fd)
		}
	}
}

// addColumn checks ADD COLUMN on a table the running release uses.
func (a *analyzer) addColumn(st *fileState, s *statement, table string, def pgparse.ColumnDef) {
	notNull := def.IsNotNull
	var dflt *pgparse.Node
	if def.RawDefault.Type != "" {
		dflt = &def.RawDefault
	}
	var generated, identity bool
	for _, cn := range def.Constraints {
		var c pgparse.Constraint
		if !cn.Into(&c) {
			continue
		}
		switch c.Contype {
		case "CONSTR_NOTNULL":
			notNull = true
		case "CONSTR_DEFAULT":
			expr := c.RawExpr
			dflt = &expr
		case "CONSTR_GENERATED":
			generated = true
		case "CONSTR_IDENTITY":
			identity = true
		case "CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_EXCLUSION", "CONSTR_CHECK":
			a.constraint(st, s, c, def.Colname)
		}
	}
	typ := strings.ToLower(def.TypeName.Name())
	serial := typ == "serial" || typ == "bigserial" || typ == "smallserial" || typ == "serial2" || typ == "serial4" || typ == "serial8"
	fd := newFinding(RuleVolatileDefault)
	fd.Table, fd.Column = table, def.Colname
	switch {
	case serial:
		fd.Detail = "column " + def.Colname + " is " + typ + ": every row gets nextval()"
	case identity:
		fd.Detail = "identity column " + def.Colname + ": every row gets a value"
	case generated:
		fd.Rule, fd.Reason, fd.Safe, fd.Steps = RuleTableRewrite, mustRule(RuleTableRewrite).Reason, "add a plain column, backfill it in batches, keep it up to date with a trigger", nil
		fd.Detail = "stored generated column " + def.Colname
	case dflt != nil && a.pgMajor < 11:
		fd.Detail = "before PostgreSQL 11 any DEFAULT on ADD COLUMN rewrites the table"
	case dflt != nil:
		switch vol, fn := volatility(*dflt); vol {
		case volVolatile:
			fd.Detail = "DEFAULT " + fn + "() is volatile"
		case volUnknown:
			fd.Severity = Warning
			fd.Detail = "DEFAULT calls " + fn + "(): if it is VOLATILE the table is rewritten"
		default:
			fd.Rule = ""
		}
	default:
		fd.Rule = ""
	}
	if fd.Rule != "" {
		a.add(st, s, fd)
	}
	if notNull && dflt == nil && !serial && !identity && !generated {
		fd := newFinding(RuleAddNotNullColumn)
		fd.Table, fd.Column = table, def.Colname
		a.add(st, s, fd)
	}
}

// constraint checks a constraint added to an existing table (column is set
// for constraints written on ADD COLUMN).
func (a *analyzer) constraint(st *fileState, s *statement, c pgparse.Constraint, column string) {
	switch c.Contype {
	case "CONSTR_FOREIGN":
		if !c.SkipValidation && column == "" {
			a.add(st, s, newFinding(RuleForeignKeyNotValid))
		}
	case "CONSTR_CHECK":
		if !c.SkipValidation && column == "" {
			a.add(st, s, newFinding(RuleCheckNotValid))
		}
	case "CONSTR_UNIQUE", "CONSTR_EXCLUSION":
		if c.Indexname == "" {
			fd := newFinding(RuleAddUniqueConstraint)
			if c.Contype == "CONSTR_EXCLUSION" {
				fd.Detail = "an exclusion constraint builds its index the same way"
			}
			a.add(st, s, fd)
		}
	case "CONSTR_PRIMARY":
		if c.Indexname == "" {
			a.add(st, s, newFinding(RuleAddPrimaryKey))
		}
	}
}

func mustRule(id string) Rule {
	r, _ := ruleByID(id)
	return r
}

// notNullColumn returns col when expr is "col IS NOT NULL".
func notNullColumn(expr pgparse.Node) string {
	var nt pgparse.NullTest
	if expr.Type != "NullTest" || !expr.Into(&nt) || nt.Nulltesttype != "IS_NOT_NULL" {
		return ""
	}
	var cr pgparse.ColumnRef
	if nt.Arg.Type != "ColumnRef" || !nt.Arg.Into(&cr) {
		return ""
	}
	return pgparse.LastString(cr.Fields)
}

const (
	volSafe = iota
	volUnknown
	volVolatile
)

// isVolatile and isStable name functions whose volatility decides whether
// ADD COLUMN ... DEFAULT rewrites the table (PostgreSQL 11+ stores a
// non-volatile default without one).
func isVolatile(fn string) bool {
	switch fn {
	case "random", "random_normal", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
		"uuid_generate_v4", "uuidv4", "uuidv7", "clock_timestamp", "timeofday", "nextval", "setval",
		"txid_current", "pg_current_xact_id":
		return true
	}
	return false
}

func isStable(fn string) bool {
	switch fn {
	case "now", "transaction_timestamp", "statement_timestamp", "current_setting", "lower", "upper",
		"to_timestamp", "to_date", "date_trunc", "make_interval", "make_date", "make_timestamp",
		"make_timestamptz", "jsonb_build_object", "json_build_object", "jsonb_build_array",
		"json_build_array", "concat", "timezone", "array_fill":
		return true
	}
	return false
}

// volatility classifies a default expression and names the deciding function.
func volatility(expr pgparse.Node) (int, string) {
	worst, name := volSafe, ""
	for _, fn := range expr.FuncNames() {
		fn = strings.ToLower(fn)
		switch {
		case isVolatile(fn):
			return volVolatile, fn
		case !isStable(fn) && worst < volUnknown:
			worst, name = volUnknown, fn
		}
	}
	return worst, name
}

func objectWord(objtype string) string {
	switch objtype {
	case "OBJECT_VIEW":
		return "view"
	case "OBJECT_MATVIEW":
		return "materialized view"
	case "OBJECT_FOREIGN_TABLE":
		return "foreign table"
	}
	return "table"
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
