package migrations

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/pmguard/pmguard/internal/migrations/pgparse"
)

// statement is one parsed statement of a migration file.
type statement struct {
	stmt pgparse.Stmt
	line int    // 1-based line of its first token
	text string // its source, whitespace collapsed
	// allows are the pmguard:allow overrides written on it.
	allows []*override
	// unknown is set for a statement PostgreSQL 17's parser cannot read:
	// what it is, for the syntax-unknown-to-parser finding.
	unknown string
	// block is the DO block the statement is part of.
	block *statement
	// after are the directives written after the file's last statement,
	// which apply to no statement.
	after []*override
}

// parsedFile is a migration file with its statements.
type parsedFile struct {
	*Migration
	stmts []statement
}

// analyzer applies the rules to the statements of the changed migrations,
// in the order they run. It remembers what earlier statements created, so
// that work on a table created in the same change (which no running release
// can use yet) is not reported, and it keeps the schema the migrations
// build (replayed from the deployed ones first) to judge each statement by
// what it costs on that schema.
type analyzer struct {
	pgMajor      int
	created      map[relName]bool // tables, views and sequences created in this change
	addedColumns map[colName]bool // columns added in this change
	// assigned are the columns an UPDATE in this change sets: a column
	// added without a default no longer holds NULL in every row
	assigned     map[colName]bool
	createdIndex map[relName]bool // indexes created in this change
	createdTypes map[string]bool  // types and domains created in this change, unqualified
	createdFuncs map[string]bool  // functions and procedures created in this change, unqualified
	schema       *schemaState
	// replaying: the deployed migrations are read for the schema only.
	replaying bool
	findings  []Finding
}

func newAnalyzer(pgMajor int) *analyzer {
	return &analyzer{
		pgMajor:      pgMajor,
		created:      map[relName]bool{},
		addedColumns: map[colName]bool{},
		assigned:     map[colName]bool{},
		createdIndex: map[relName]bool{},
		createdTypes: map[string]bool{},
		createdFuncs: map[string]bool{},
		schema:       newSchema(),
	}
}

// replay reads migrations already deployed into the schema, without
// reporting anything: what they created is existing, not new.
func (a *analyzer) replay(files []*parsedFile) {
	a.replaying = true
	for _, f := range files {
		a.file(f)
	}
	a.replaying = false
	a.findings = nil
	a.created, a.addedColumns, a.createdIndex, a.createdTypes = map[relName]bool{}, map[colName]bool{}, map[relName]bool{}, map[string]bool{}
	a.assigned, a.createdFuncs = map[colName]bool{}, map[string]bool{}
}

// fileState is what the rules track within one file (one session).
type fileState struct {
	f           *parsedFile
	toolTx      bool // the tool wraps the file in a transaction
	toolRealTx  bool // ... with BEGIN/COMMIT of its own (not golang-migrate's implicit one)
	explicitTx  bool // inside BEGIN ... COMMIT written in the file
	nestedBegin bool // ... whose BEGIN did nothing, inside the tool's transaction
	toolEnded   bool // a COMMIT or ROLLBACK in the file ended the tool's transaction
	doBlock     bool // inside a DO block (its statements run as one transaction)
	begin       *statement
	session     settings  // the session's, from SET
	local       *settings // the open transaction's, from SET LOCAL, until it ends
	warnedLock  bool
	warnedStmt  bool
	tx          txState
	locked      []tableLock         // the existing tables the current statement locks
	keysAdded   map[string][]string // the keys the current ALTER TABLE adds, by name
	// dropsConstraints are the constraints the current ALTER TABLE drops:
	// PostgreSQL drops them before any SET NOT NULL in it
	dropsConstraints map[string]bool
	dropsProof       []string // the columns the validated checks it drops prove NOT NULL
	currentLockFor   string   // the existing object the current statement locks at all
	currentLock      string   // the lock it takes there, when it is not a table lock (DDL on types)
	firstFinding     int      // index of the current statement's first finding
}

// txState is what the transaction open at a statement holds.
type txState struct {
	notValid   map[colName]bool // constraints added NOT VALID in it
	strong     string           // an existing table locked against writes in it
	strongMode string           // the lock
	strongAt   *statement       // the statement that took it
	updates    []*statement     // UPDATEs of existing tables in it, not yet reported
	reported   map[*statement]bool
	// dropped are the existing views DROP VIEW removed in it, renamed the
	// existing tables and views renamed in it: a view created under the
	// same name before COMMIT replaces them for the running release
	dropped map[relName]droppedView
	renamed map[relName]renamedRel
	// labels are the enum values ALTER TYPE ... ADD VALUE added in it, by
	// value: PostgreSQL refuses to use them before it commits
	labels map[string][]addedLabel
}

// addedLabel is an enum value added in the open transaction.
type addedLabel struct {
	typ string // the enum type, unqualified
	at  *statement
}

// droppedView is a DROP VIEW in the open transaction: the statement, and
// what the view was (nil when not known from the migrations).
type droppedView struct {
	at   *statement
	view *viewState
}

// renamedRel is a rename in the open transaction: the statement, the new name.
type renamedRel struct {
	at *statement
	to relName
}

func (st *fileState) inTx() bool { return st.toolTx || st.explicitTx || st.doBlock }

// endTx forgets what the transaction held; its SET LOCAL ends with it.
func (st *fileState) endTx() { st.tx, st.local = txState{}, nil }

// settings are the session settings the rules read.
type settings struct {
	path        []string // the schemas of SET search_path, nil for public
	lockTimeout bool     // lock_timeout is set (non-zero)
	stmtTimeout bool     // statement_timeout is set (non-zero)
}

// set returns the settings in effect.
func (st *fileState) set() *settings {
	if st.local != nil {
		return st.local
	}
	return &st.session
}

func (a *analyzer) file(f *parsedFile) {
	st := &fileState{f: f}
	st.toolTx = f.tx == txWhole || (f.tx == txIfMany && len(f.stmts) > 1)
	st.toolRealTx = st.toolTx && f.Format != FormatGolangMigrate
	for i := range f.stmts {
		a.statement(st, &f.stmts[i])
	}
	// once the file ended the tool's transaction, the tool's own COMMIT at
	// the end commits a BEGIN the file leaves open
	if st.explicitTx && st.begin != nil && !(st.toolEnded && st.toolRealTx) {
		fd := newFinding(RuleUncommittedTx)
		fd.Detail = "BEGIN at line " + itoa(st.begin.line) + " has no COMMIT before the end of the file"
		a.add(st, st.begin, fd)
	}
}

func (a *analyzer) add(st *fileState, s *statement, fd Finding) {
	if a.replaying {
		return
	}
	fd.File = st.f.Path
	fd.Line = s.line
	fd.Statement = s.text
	fd.stmt = s
	if s.block != nil {
		in := "in the DO block at line " + itoa(s.block.line)
		if fd.Detail == "" {
			fd.Detail = in
		} else {
			fd.Detail += " (" + in + ")"
		}
	}
	if fd.Lock != "" && fd.Table != "" && !strings.Contains(fd.Lock, " on ") {
		on := fd.Table
		if fd.rel.name != "" {
			on = fd.rel.String()
		}
		base, briefly := strings.CutSuffix(fd.Lock, ", briefly")
		fd.Lock = base + " on " + on
		if briefly {
			fd.Lock += ", briefly"
		}
	}
	a.findings = append(a.findings, fd)
}

// existing reports whether a table is one the running release may use: not
// created earlier in this change.
func (a *analyzer) existing(table relName) bool { return !a.created[table] }

// Table lock modes as PostgreSQL names them. From SHARE up they block the
// running release's writes, and ACCESS EXCLUSIVE its reads too; a weaker
// mode is given as "" where it makes no difference.
const (
	modeShareUpdateExcl = "SHARE UPDATE EXCLUSIVE"
	modeShare           = "SHARE"
	modeShareRowExcl    = "SHARE ROW EXCLUSIVE"
	modeExclusive       = "EXCLUSIVE"
	modeAccessExcl      = "ACCESS EXCLUSIVE"
)

// modeRank orders the modes: a statement holds the strongest it takes.
var modeRank = map[string]int{modeShareUpdateExcl: 1, modeShare: 2, modeShareRowExcl: 3, modeExclusive: 4, modeAccessExcl: 5}

func blocksWrites(mode string) bool { return modeRank[mode] >= modeRank[modeShare] }

// blocked says what a mode blocks of the running release.
func blocked(mode string) string {
	if mode == modeAccessExcl {
		return "every read and write of it"
	}
	return "its writes"
}

// tableLock is a lock a statement takes on an existing table (or on
// objects named in words: "every table of the database").
type tableLock struct{ table, mode string }

// locksTable notes that the statement takes lock mode on an existing table
// (for lock-timeout, statement-timeout and backfill-in-transaction).
func (st *fileState) locksTable(table, mode string) {
	if st.currentLockFor == "" {
		st.currentLockFor = table
	}
	st.locked = append(st.locked, tableLock{table, mode})
}

// strongest is the first table the current statement locks against writes,
// with the strongest lock it takes there ("" when it locks none so).
func (st *fileState) strongest() (table, mode string) {
	for _, l := range st.locked {
		if !blocksWrites(l.mode) {
			continue
		}
		if table == "" {
			table = l.table
		}
		if l.table == table && modeRank[l.mode] > modeRank[mode] {
			mode = l.mode
		}
	}
	return table, mode
}

// The locks DDL on types and domains takes, as pg_locks shows them while
// the statement's transaction is open. PostgreSQL's "Explicit Locking"
// table lists table locks only. Queries lock a type only when they read or
// write a column of a composite type: ACCESS SHARE on its relation for a
// moment, to read its row type, which waits behind an ALTER TYPE.
const (
	lockNewType       = "none on an existing object: it adds catalog rows, and waits only for an open transaction that creates the same name"
	lockNewComposite  = "ACCESS SHARE on the schema (as CREATE TABLE takes), and ACCESS EXCLUSIVE on the new type only: it waits only for DROP SCHEMA or an open transaction that creates the same name"
	lockEnumLabels    = "EXCLUSIVE on the type until COMMIT (two transactions cannot change its labels at once): no query waits on it, only other DDL on the type"
	lockCompositeType = "ACCESS EXCLUSIVE on the composite type until COMMIT: queries that read or write a column of the type wait, and so does other DDL on it"
	lockTypeRow       = "none beyond the catalog row it updates: it waits only for an open transaction that changed the same type"
	lockDropType      = "ACCESS EXCLUSIVE on the type and its array type until COMMIT"
	lockDropCascade   = "ACCESS EXCLUSIVE on the type, its array type and every table with a column of it (CASCADE drops those columns) until COMMIT"
	lockDomainDrop    = "ACCESS EXCLUSIVE on the constraint until COMMIT, none on the tables that use the domain"
)

// typeLockReason replaces the lock-timeout reason for DDL on types whose
// lock no query of the running release waits on (all but those in
// queriesWait): the statement itself can wait, and so do the locks its
// transaction already holds.
const typeLockReason = "the statement waits without limit for a conflicting lock (DDL on the same type, or an open transaction creating the same name), and every lock the file's transaction took before it is held while it waits; lock_timeout set at the top also bounds the file's later statements"

// queriesWait are the type locks the running release's queries queue
// behind, as behind a table lock.
var queriesWait = map[string]bool{lockCompositeType: true, lockDropCascade: true}

// locksType notes DDL on a type or domain: stmt names it ("ALTER TYPE mood
// ADD VALUE") and lock is the lock it takes.
func (st *fileState) locksType(stmt, lock string) {
	if st.currentLockFor == "" {
		st.currentLockFor, st.currentLock = stmt, lock
	}
}

func (a *analyzer) statement(st *fileState, s *statement) {
	n := s.stmt.Node
	st.currentLockFor, st.currentLock, st.locked = "", "", nil
	st.firstFinding = len(a.findings)
	if s.unknown != "" {
		fd := newFinding(RuleSyntaxUnknown)
		fd.Detail = s.unknown
		a.add(st, s, fd)
		return
	}
	if len(st.tx.labels) > 0 && n.Type != "AlterEnumStmt" {
		a.labelUse(st, s, n)
	}
	switch n.Type {
	case "CreateStmt":
		var c struct {
			pgparse.CreateStmt
			InhRelations []pgparse.Node `json:"inhRelations"`
			Partspec     *struct{}      `json:"partspec"`
			Partbound    *struct{}      `json:"partbound"`
			IfNotExists  bool           `json:"if_not_exists"`
		}
		if !n.Into(&c) {
			break
		}
		name := st.newRel(c.Relation.Schemaname, c.Relation.Relname)
		if c.Partspec != nil || c.Partbound != nil {
			a.gate(st, s, "declarative partitioning (PARTITION BY, PARTITION OF)", 10)
		}
		if c.IfNotExists && a.schema.tables[name] != nil {
			// PostgreSQL skips it with a notice: the table keeps its rows
			// and columns, and the running release still uses it.
			break
		}
		if !a.replaying {
			a.created[name] = true
		}
		t := a.schema.table(name)
		t.reset()
		for _, e := range c.TableElts {
			switch e.Type {
			case "ColumnDef":
				var def pgparse.ColumnDef
				if e.Into(&def) {
					t.cols[def.Colname] = columnFrom(def)
					a.columnGates(st, s, def)
					for _, k := range pgparse.Constraints(def.Constraints) {
						a.recordConstraint(name, k, def.Colname)
						a.locksReferenced(st, k)
					}
				}
			case "Constraint":
				var k pgparse.Constraint
				if e.Into(&k) {
					a.recordConstraint(name, k, "")
					a.locksReferenced(st, k)
				}
			}
		}
		// PARTITION OF locks the partitioned table ACCESS EXCLUSIVE;
		// INHERITS takes SHARE UPDATE EXCLUSIVE on the parent
		parentMode := modeShareUpdateExcl
		if c.Partbound != nil {
			parentMode = modeAccessExcl
		}
		for _, rv := range pgparse.RangeVars(c.InhRelations) {
			if parent := a.rv(st, rv); a.existing(parent) {
				st.locksTable(parent.String(), parentMode)
			}
		}
	case "CreateTableAsStmt", "SelectStmt": // CREATE TABLE AS, CREATE MATERIALIZED VIEW, SELECT INTO
		var c struct {
			Into        *intoClause  `json:"into"`
			IntoClause  *intoClause  `json:"intoClause"`
			IfNotExists bool         `json:"if_not_exists"`
			Objtype     string       `json:"objtype"`
			Query       pgparse.Node `json:"query"`
		}
		if !n.Into(&c) {
			break
		}
		into := c.Into
		if into == nil {
			into = c.IntoClause
		}
		if n.Type == "SelectStmt" {
			a.callsDefined(st, s, n)
		}
		if into == nil {
			break
		}
		name := st.newRel(into.Rel.Schemaname, into.Rel.Relname)
		if c.IfNotExists && a.schema.tables[name] != nil {
			break // skipped, as CREATE TABLE IF NOT EXISTS
		}
		if !a.replaying {
			a.created[name] = true
		}
		// its columns are the query's: not known here
		t := a.schema.table(name)
		t.reset()
		if c.Objtype == "OBJECT_MATVIEW" {
			a.schema.views[name] = a.viewOf(st, c.Query)
		}
	case "CreateSeqStmt":
		var c struct {
			Sequence pgparse.RangeVar `json:"sequence"`
		}
		if n.Into(&c) && !a.replaying {
			a.created[st.newRel(c.Sequence.Schemaname, c.Sequence.Relname)] = true
		}
	case "ViewStmt":
		var v struct {
			View    pgparse.RangeVar `json:"view"`
			Query   pgparse.Node     `json:"query"`
			Replace bool             `json:"replace"`
		}
		if n.Into(&v) {
			a.createView(st, s, v.View, v.Query, v.Replace)
		}
	case "AlterTableStmt":
		var at pgparse.AlterTableStmt
		if !n.Into(&at) {
			break
		}
		if at.Objtype == "OBJECT_INDEX" {
			for _, cmd := range pgparse.AlterTableCmds(at.Cmds) {
				if cmd.Subtype == "AT_AttachPartition" {
					a.gate(st, s, "ALTER INDEX ... ATTACH PARTITION", 11)
				}
			}
			break
		}
		if at.Objtype == "OBJECT_TYPE" { // ADD, DROP, ALTER ATTRIBUTE of a composite type
			st.locksType("ALTER TYPE "+at.Relation.Relname, lockCompositeType)
			a.alterCompositeType(st, s, strings.ToLower(at.Relation.Relname), at.Cmds)
			break
		}
		if at.Objtype != "OBJECT_TABLE" && at.Objtype != "OBJECT_FOREIGN_TABLE" {
			break
		}
		table := a.rv(st, at.Relation)
		st.keysAdded, st.dropsConstraints, st.dropsProof = map[string][]string{}, map[string]bool{}, nil
		for _, cmd := range pgparse.AlterTableCmds(at.Cmds) {
			var c pgparse.Constraint
			if cmd.Subtype == "AT_AddConstraint" && cmd.Def.Into(&c) {
				if name, cols, ok := keyOf(table, c, ""); ok {
					st.keysAdded[name] = cols
				}
			}
			if cmd.Subtype == "AT_DropConstraint" {
				st.dropsConstraints[cmd.Name] = true
				if t := a.schema.tables[table]; t != nil && t.checks[cmd.Name] != nil && t.checks[cmd.Name].valid {
					st.dropsProof = append(st.dropsProof, t.checks[cmd.Name].columns...)
				}
			}
		}
		for _, cmd := range pgparse.AlterTableCmds(at.Cmds) {
			if a.existing(table) {
				st.locksTable(table.String(), alterLock(cmd, a.pgMajor))
			}
			a.alterTable(st, s, table, cmd)
		}
	case "RenameStmt":
		var r pgparse.RenameStmt
		if !n.Into(&r) {
			break
		}
		if r.RenameType == "OBJECT_SCHEMA" {
			fd := newFinding(RuleRenameSchema)
			fd.Table, fd.NewName = r.Subname, r.Newname
			fd.Detail = "schema " + r.Subname + " becomes " + r.Newname + " (the deployed code is searched for the schema name)"
			a.add(st, s, fd)
			st.locksTable("schema "+r.Subname, modeAccessExcl)
			break
		}
		switch r.RenameType {
		case "OBJECT_ATTRIBUTE": // of a composite type
			if r.Relation != nil {
				st.locksType("ALTER TYPE "+r.Relation.Relname+" RENAME ATTRIBUTE", lockCompositeType)
				if typ := strings.ToLower(r.Relation.Relname); !a.createdTypes[typ] {
					fd := newFinding(RuleRenameColumn)
					a.onType(&fd, typ)
					fd.Column, fd.NewName = r.Subname, r.Newname
					fd.Detail = "attribute " + r.Subname + " of composite type " + typ + " becomes " + r.Newname + a.typeUsedBy(typ) + ": the running release's queries that read or write (column)." + r.Subname + " fail"
					fd.Lock = lockCompositeType
					a.add(st, s, fd)
				}
			}
		case "OBJECT_TYPE", "OBJECT_DOMAIN", "OBJECT_DOMCONSTRAINT":
			st.locksType(typeDDL("ALTER", r.RenameType, pgparse.ObjectName(r.Object))+" RENAME", lockTypeRow)
		}
		a.renameByName(st, s, r.RenameType, r.Object, r.Newname)
		if r.Relation == nil || r.RenameType == "OBJECT_ATTRIBUTE" {
			break
		}
		table := a.rv(st, *r.Relation)
		switch r.RenameType {
		case "OBJECT_COLUMN":
			if a.existing(table) && !a.addedColumns[key(table, r.Subname)] {
				fd := newFinding(RuleRenameColumn)
				fd.on(table)
				fd.Column, fd.NewName = r.Subname, r.Newname
				if views := a.schema.viewsReading(table, r.Subname); len(views) > 0 {
					fd.Detail = viewsFollow(views) + "; the running release's queries that name " + table.String() + "." + r.Subname + " fail"
				}
				a.add(st, s, fd)
			}
			if t := a.schema.tables[table]; t != nil && t.cols[r.Subname] != nil {
				t.cols[r.Newname] = t.cols[r.Subname]
				delete(t.cols, r.Subname)
			}
		case "OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE":
			renamed := relName{table.schema, r.Newname}
			if a.existing(table) {
				fd := newFinding(RuleRenameTable)
				fd.on(table)
				fd.NewName = r.Newname
				var detail []string
				if r.RenameType != "OBJECT_TABLE" {
					detail = append(detail, "a "+objectWord(r.RenameType)+" is renamed")
				}
				if views := a.schema.viewsReading(table, ""); len(views) > 0 {
					detail = append(detail, viewsFollow(views)+"; the running release's queries that name "+table.String()+" fail")
				}
				fd.Detail = strings.Join(detail, "; ")
				a.add(st, s, fd)
				if st.inTx() {
					if st.tx.renamed == nil {
						st.tx.renamed = map[relName]renamedRel{}
					}
					st.tx.renamed[table] = renamedRel{at: s, to: renamed}
				}
			} else {
				a.created[renamed] = true
			}
			a.schema.move(table, renamed)
		}
		if a.existing(table) {
			st.locksTable(table.String(), modeAccessExcl)
		}
	case "DropStmt":
		a.drop(st, s, n)
	case "DropdbStmt":
		var d struct {
			pgparse.DropdbStmt
			Options []pgparse.Node `json:"options"`
		}
		n.Into(&d)
		if pgparse.OptionOn(d.Options, "force") {
			a.gate(st, s, "DROP DATABASE ... WITH (FORCE)", 13)
		}
		fd := newFinding(RuleDropSchema)
		fd.Detail = "database " + d.Dbname
		a.add(st, s, fd)
	case "IndexStmt":
		var ix struct {
			pgparse.IndexStmt
			pgparse.IndexOptions
		}
		if !n.Into(&ix) {
			break
		}
		if len(ix.IndexIncludingParams) > 0 {
			a.gate(st, s, "CREATE INDEX ... INCLUDE", 11)
		}
		if ix.NullsNotDistinct {
			a.gate(st, s, "NULLS NOT DISTINCT", 15)
		}
		table := a.rv(st, ix.Relation)
		a.createdIndex[relName{table.schema, ix.Idxname}] = true
		if ix.Idxname != "" {
			var cols []string
			for _, e := range pgparse.All[pgparse.IndexElem](ix.IndexParams, "IndexElem") {
				if e.Name == "" {
					cols = nil
					break
				}
				cols = append(cols, e.Name)
			}
			a.schema.indexes[relName{table.schema, ix.Idxname}] = &indexState{table: table, cols: cols}
		}
		if ix.Concurrent {
			if st.inTx() {
				a.add(st, s, a.txFinding(st, "CREATE INDEX CONCURRENTLY"))
			}
			break
		}
		if a.existing(table) {
			st.locksTable(table.String(), modeShare)
			fd := newFinding(RuleIndexConcurrently)
			fd.on(table)
			if ix.Unique {
				fd.Detail = "a unique index: CREATE UNIQUE INDEX CONCURRENTLY"
			}
			a.add(st, s, fd)
		}
	case "ReindexStmt":
		a.reindex(st, s, n)
	case "TruncateStmt":
		var t pgparse.TruncateStmt
		if !n.Into(&t) {
			break
		}
		for _, rv := range pgparse.RangeVars(t.Relations) {
			if table := a.rv(st, rv); a.existing(table) {
				fd := newFinding(RuleTruncate)
				fd.Detail = "table " + table.String()
				fd.on(table)
				a.add(st, s, fd)
				st.locksTable(table.String(), modeAccessExcl)
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
			st.locksType("ALTER TYPE "+typ+" RENAME VALUE", lockEnumLabels)
			a.gate(st, s, "ALTER TYPE ... RENAME VALUE", 10)
			fd := newFinding(RuleRenameEnumValue)
			fd.Detail = "type " + typ + ": '" + e.OldVal + "' -> '" + e.NewVal + "'"
			a.add(st, s, fd)
		} else {
			st.locksType("ALTER TYPE "+typ+" ADD VALUE", lockEnumLabels)
			if a.pgMajor < 12 && st.inTx() {
				fd := newFinding(RuleEnumValueInTx)
				fd.Detail = "type " + typ + a.txDetail(st)
				a.add(st, s, fd)
			} else if st.inTx() {
				if st.tx.labels == nil {
					st.tx.labels = map[string][]addedLabel{}
				}
				st.tx.labels[e.NewVal] = append(st.tx.labels[e.NewVal], addedLabel{typ: typ, at: s})
			}
		}
	case "RefreshMatViewStmt":
		var m struct {
			Concurrent bool             `json:"concurrent"`
			SkipData   bool             `json:"skipData"`
			Relation   pgparse.RangeVar `json:"relation"`
		}
		if !n.Into(&m) {
			break
		}
		view := a.rv(st, m.Relation)
		if !a.existing(view) {
			break
		}
		mode := modeAccessExcl
		if m.Concurrent {
			mode = modeExclusive // the view's readers go on
		}
		st.locksTable(view.String(), mode)
		if m.Concurrent {
			break
		}
		fd := newFinding(RuleRefreshMatView)
		fd.on(view)
		fd.Lock = "ACCESS EXCLUSIVE on " + view.String() + " for the whole refresh (every read of the view waits)"
		if m.SkipData {
			fd.Severity = Blocking
			fd.Detail = "WITH NO DATA empties the view: the running release's queries of it fail (\"materialized view has not been populated\") until it is refreshed again"
			fd.Safe = "refresh it with its data, CONCURRENTLY"
		}
		a.add(st, s, fd)
	case "VacuumStmt":
		a.vacuum(st, s, n)
	case "ClusterStmt":
		var c pgparse.ClusterStmt
		n.Into(&c)
		fd := newFinding(RuleTableRewrite)
		fd.Detail = "CLUSTER"
		if c.Relation != nil {
			table := a.rv(st, *c.Relation)
			fd.on(table)
			st.locksTable(table.String(), modeAccessExcl)
		} else {
			st.locksTable("every clustered table", modeAccessExcl)
		}
		a.add(st, s, fd)
	case "LockStmt":
		var l pgparse.LockStmt
		if n.Into(&l) {
			for _, rv := range pgparse.RangeVars(l.Relations) {
				if table := a.rv(st, rv); a.existing(table) && l.Mode >= 1 && l.Mode <= 8 {
					st.locksTable(table.String(), lockModes[l.Mode])
				}
			}
		}
	case "CommentStmt":
		var c pgparse.CommentStmt
		if n.Into(&c) && (c.Objtype == "OBJECT_TABLE" || c.Objtype == "OBJECT_COLUMN") {
			drop := 0
			if c.Objtype == "OBJECT_COLUMN" {
				drop = 1
			}
			if table, ok := a.objectRel(st, c.Object, drop); ok && a.existing(table) {
				st.locksTable(table.String(), modeShareUpdateExcl)
			}
		}
	case "CreateTrigStmt":
		var c pgparse.CreateTrigStmt
		if n.Into(&c) {
			if c.Replace {
				a.gate(st, s, "CREATE OR REPLACE TRIGGER", 14)
			}
			if table := a.rv(st, c.Relation); a.existing(table) {
				st.locksTable(table.String(), modeShareRowExcl)
			}
		}
	case "AlterDomainStmt":
		var d pgparse.AlterDomainStmt
		if n.Into(&d) {
			a.alterDomain(st, s, d)
		}
	case "CreateEnumStmt", "CreateRangeStmt", "AlterTypeStmt":
		var t struct {
			TypeName []pgparse.Node `json:"typeName"`
		}
		n.Into(&t)
		if n.Type == "AlterTypeStmt" {
			st.locksType("ALTER TYPE "+pgparse.LastString(t.TypeName)+" SET", lockTypeRow)
		} else {
			st.locksType("CREATE TYPE "+pgparse.LastString(t.TypeName), lockNewType)
			if !a.replaying {
				a.createdTypes[strings.ToLower(pgparse.LastString(t.TypeName))] = true
			}
		}
	case "CompositeTypeStmt":
		var c struct {
			Typevar pgparse.RangeVar `json:"typevar"`
		}
		n.Into(&c)
		st.locksType("CREATE TYPE "+c.Typevar.Relname, lockNewComposite)
		if !a.replaying {
			a.createdTypes[strings.ToLower(c.Typevar.Relname)] = true
		}
	case "DefineStmt": // CREATE TYPE name (INPUT = ...), or a shell type
		var d struct {
			Kind     string         `json:"kind"`
			Defnames []pgparse.Node `json:"defnames"`
		}
		if n.Into(&d) && d.Kind == "OBJECT_TYPE" {
			st.locksType("CREATE TYPE "+pgparse.LastString(d.Defnames), lockNewType)
		}
	case "AlterOwnerStmt", "AlterObjectSchemaStmt":
		var o struct {
			ObjectType string            `json:"objectType"`
			Object     pgparse.Node      `json:"object"`
			Relation   *pgparse.RangeVar `json:"relation"`
			Newschema  string            `json:"newschema"`
		}
		if !n.Into(&o) {
			break
		}
		if n.Type == "AlterObjectSchemaStmt" && o.Relation != nil {
			a.setSchema(st, s, o.ObjectType, *o.Relation, o.Newschema)
			break
		}
		if n.Type == "AlterObjectSchemaStmt" {
			a.moveByName(st, s, o.ObjectType, o.Object, o.Newschema)
		}
		if o.ObjectType == "OBJECT_TYPE" || o.ObjectType == "OBJECT_DOMAIN" {
			what := " OWNER TO"
			if n.Type == "AlterObjectSchemaStmt" {
				what = " SET SCHEMA"
			}
			st.locksType(typeDDL("ALTER", o.ObjectType, pgparse.ObjectName(o.Object))+what, lockTypeRow)
		}
	case "CreateDomainStmt":
		var d pgparse.CreateDomainStmt
		if n.Into(&d) {
			st.locksType("CREATE DOMAIN "+pgparse.LastString(d.Domainname), lockNewType)
			name := strings.ToLower(pgparse.LastString(d.Domainname))
			if !a.replaying {
				a.createdTypes[name] = true
			}
			a.schema.domainConstraints[name] = map[string]bool{}
			for _, c := range pgparse.Constraints(d.Constraints) {
				a.domainConstraint(name, c)
			}
			for _, c := range pgparse.Constraints(d.Constraints) {
				if c.Contype == "CONSTR_CHECK" {
					fd := newFinding(RuleDomainConstraint)
					fd.Severity = Warning
					fd.Detail = "domain " + pgparse.LastString(d.Domainname) + " has a CHECK: changing it later scans every column that uses the domain (a check on the table column can be added NOT VALID and validated without blocking)"
					a.add(st, s, fd)
					break
				}
			}
		}
	case "DoStmt":
		a.doBlock(st, s, n)
	case "CreateFunctionStmt":
		var f struct {
			pgparse.CreateFunctionStmt
			IsProcedure bool `json:"is_procedure"`
		}
		if n.Into(&f) {
			// the body runs only when it is called: creating the
			// function or procedure changes nothing the running release
			// uses (CALL and DO run a body during the migration)
			if f.IsProcedure {
				a.gate(st, s, "CREATE PROCEDURE", 11)
			}
			vol := pgparse.OptionString(f.Options, "volatility")
			if vol == "" {
				vol = "volatile" // PostgreSQL's default
			}
			name := strings.ToLower(pgparse.LastString(f.Funcname))
			// OR REPLACE of a deployed function keeps the one the
			// running release calls: it is not new to this change.
			if _, deployed := a.schema.funcs[name]; !a.replaying && !(f.Replace && deployed) {
				a.createdFuncs[name] = true
			}
			a.schema.funcs[name] = vol
		}
	case "CallStmt":
		var c struct {
			Funccall pgparse.FuncCall `json:"funccall"`
		}
		if n.Into(&c) {
			fd := newFinding(RuleBodyNotChecked)
			fd.Detail = "CALL at line " + itoa(s.line) + " runs procedure " + pgparse.LastString(c.Funccall.Funcname) + " during the migration: its body was not checked"
			a.add(st, s, fd)
		}
	case "MergeStmt":
		a.gate(st, s, "MERGE", 15)
		if n.Contains("returningList") {
			a.gate(st, s, "MERGE ... RETURNING", 17)
		}
	case "UpdateStmt":
		var u pgparse.UpdateStmt
		if !n.Into(&u) {
			break
		}
		table := a.rv(st, u.Relation)
		for _, col := range u.Columns() {
			a.assigned[key(table, col)] = true
		}
		// a migration tool's own row (Alembic's offline SQL writes
		// alembic_version in the migration's transaction) is no backfill
		if a.existing(table) && st.inTx() && !toolTables[table.name] {
			st.tx.updates = append(st.tx.updates, s)
		}
	case "TransactionStmt":
		var t pgparse.TransactionStmt
		n.Into(&t)
		switch t.Kind {
		case "TRANS_STMT_BEGIN", "TRANS_STMT_START":
			nested := st.explicitTx || st.toolTx && st.toolRealTx
			if nested {
				fd := newFinding(RuleTxNesting)
				if st.explicitTx {
					fd.Detail = "BEGIN at line " + itoa(st.begin.line) + " is still open"
				} else {
					fd.Detail = string(st.f.Format) + " already runs the file in a transaction"
					if st.f.txFix != "" {
						fd.Safe = "remove BEGIN/COMMIT from the file, or " + st.f.txFix
					}
				}
				a.add(st, s, fd)
			}
			if !st.explicitTx {
				// inside the tool's transaction the BEGIN does nothing
				// (goose, dbmate, Flyway) or makes golang-migrate's
				// implicit one explicit: the transaction goes on
				st.nestedBegin = nested
			}
			st.explicitTx, st.begin = true, s
		case "TRANS_STMT_COMMIT", "TRANS_STMT_ROLLBACK":
			a.endTransaction(st, s, t.Kind == "TRANS_STMT_ROLLBACK")
		case "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED", "TRANS_STMT_PREPARE":
			st.explicitTx, st.nestedBegin = false, false
			st.endTx()
		}
	case "VariableSetStmt":
		var v pgparse.VariableSetArgs
		if n.Into(&v) {
			st.setting(v)
		}
	}
	if n.Contains("JsonTable") {
		a.gate(st, s, "JSON_TABLE", 17)
	}
	a.afterStatement(st, s)
}

// labelUse reports a statement that uses an enum value added earlier in
// the same transaction, which PostgreSQL 12+ refuses (unsafe use of new
// value) until that transaction commits. A use is the value as a string
// constant in a statement that also casts to the type, defines a column of
// it, or names a column of it (SET mood = 'meh', WHERE mood = 'meh', a
// DEFAULT).
func (a *analyzer) labelUse(st *fileState, s *statement, n pgparse.Node) {
	var consts []string
	for _, c := range n.StringConsts() {
		if len(st.tx.labels[c]) > 0 {
			consts = append(consts, c)
		}
	}
	if len(consts) == 0 {
		return
	}
	types := map[string]bool{} // the types the statement casts to or defines columns of
	for _, c := range n.Descendants("TypeCast") {
		var tc pgparse.TypeCast
		if c.Into(&tc) {
			types[strings.ToLower(tc.TypeName.Name())] = true
		}
	}
	for _, c := range n.Descendants("ColumnDef") {
		var def pgparse.ColumnDef
		if c.Into(&def) {
			types[strings.ToLower(def.TypeName.Name())] = true
		}
	}
	// the columns it names, and their types in the tables it names
	names := map[string]bool{}
	for _, c := range n.ColumnRefNames() {
		names[c] = true
	}
	for _, r := range n.Descendants("ResTarget") {
		var rt struct {
			Name string `json:"name"`
		}
		if r.Into(&rt) && rt.Name != "" {
			names[rt.Name] = true
		}
	}
	for _, c := range pgparse.AlterTableCmds(n.Descendants("AlterTableCmd")) {
		names[c.Name] = true
	}
	var top struct {
		Relation *pgparse.RangeVar `json:"relation"`
	}
	n.Into(&top)
	rels := pgparse.RangeVars(n.Descendants("RangeVar"))
	if top.Relation != nil {
		rels = append(rels, *top.Relation)
	}
	for _, rv := range rels {
		if t := a.schema.tables[a.rv(st, rv)]; t != nil {
			for name, c := range t.cols {
				if names[name] {
					types[c.typ] = true
				}
			}
		}
	}
	for _, c := range consts {
		for _, l := range st.tx.labels[c] {
			if !types[l.typ] {
				continue
			}
			fd := newFinding(RuleEnumValueInTx)
			fd.Detail = "'" + c + "' was added to type " + l.typ + " at line " + itoa(l.at.line) + a.txDetail(st) + ": PostgreSQL refuses to use a new enum value before the transaction that added it commits (unsafe use of new value), so the migration fails"
			a.add(st, s, fd)
			return
		}
	}
}

// endTransaction follows a COMMIT or ROLLBACK. One that ends a BEGIN of the
// file ends that transaction. One that ends the transaction the tool runs
// the file in is a transaction-nesting finding saying what it does: after
// it, goose's and dbmate's statements run outside any transaction, while
// Flyway's JDBC driver and golang-migrate's multi-statement string start a
// new one. With no transaction open, PostgreSQL only warns.
func (a *analyzer) endTransaction(st *fileState, s *statement, rollback bool) {
	own, nested := st.explicitTx && !st.nestedBegin, st.explicitTx && st.nestedBegin
	st.explicitTx, st.nestedBegin = false, false
	st.endTx()
	if own || !st.toolTx {
		return
	}
	after := st.f.Format == FormatGolangMigrate || st.f.Format == FormatFlyway
	// a COMMIT that ends a BEGIN reported as nested is the harm that
	// finding describes
	if nested && !rollback {
		st.toolTx, st.toolEnded = after, true
		return
	}
	word, tool := "COMMIT", string(st.f.Format)
	if rollback {
		word = "ROLLBACK"
	}
	fd := newFinding(RuleTxNesting)
	fd.Detail = word + " at line " + itoa(s.line) + " ends the transaction " + tool + " runs the file in"
	if rollback {
		fd.Reason = "ROLLBACK inside the transaction the migration tool runs the file in discards everything the migration did before it, and the tool still records the migration as applied: the database and the tool's version table disagree"
	} else {
		fd.Reason = "COMMIT inside the transaction the migration tool runs the file in commits it early: the statements after it run outside it, so a failure after it leaves the statements before it applied and the migration not recorded as applied"
	}
	fd.Safe = "leave transactions to the migration tool and remove " + word + " from the file"
	if st.f.txFix != "" {
		fd.Safe += ", or turn the tool's transaction off for this file: " + st.f.txFix
	}
	a.add(st, s, fd)
	st.toolTx, st.toolEnded = after, true
}

// setting follows SET, SET LOCAL and RESET of the settings the rules read.
// SET LOCAL lasts until the open transaction ends, and outside one does
// nothing (PostgreSQL only warns); SET also changes what a SET LOCAL set.
func (st *fileState) setting(v pgparse.VariableSetArgs) {
	var change func(*settings)
	on := v.Kind == "VAR_SET_VALUE"
	if on && len(v.Args) == 1 {
		if val, ok := pgparse.ConstString(v.Args[0]); ok && (val == "0" || strings.TrimLeft(val, "0") == "" || strings.HasPrefix(val, "0") && strings.Trim(val, "0smh ") == "") {
			on = false
		}
	}
	switch name := strings.ToLower(v.Name); {
	case v.Kind == "VAR_RESET_ALL":
		change = func(s *settings) { *s = settings{} }
	case name == "search_path":
		if path, ok := searchPathOf(v); ok {
			change = func(s *settings) { s.path = path }
		}
	case name == "lock_timeout":
		change = func(s *settings) { s.lockTimeout = on }
	case name == "statement_timeout":
		change = func(s *settings) { s.stmtTimeout = on }
	}
	switch {
	case change == nil:
	case v.IsLocal && !st.inTx():
	case v.IsLocal:
		if st.local == nil {
			local := st.session
			st.local = &local
		}
		change(st.local)
	default:
		change(&st.session)
		if st.local != nil {
			change(st.local)
		}
	}
}

// afterStatement applies the rules that depend on the locks the statement
// took: the timeouts and a backfill sharing the transaction.
func (a *analyzer) afterStatement(st *fileState, s *statement) {
	if !st.inTx() {
		st.endTx()
	}
	strong, mode := st.strongest()
	if st.inTx() && strong != "" && st.tx.strong == "" && !strings.Contains(strong, " ") {
		st.tx.strong, st.tx.strongMode, st.tx.strongAt = strong, mode, s
	}
	for _, u := range st.tx.updates {
		if st.tx.strong == "" {
			break
		}
		if st.tx.reported[u] {
			continue
		}
		if st.tx.reported == nil {
			st.tx.reported = map[*statement]bool{}
		}
		st.tx.reported[u] = true
		fd := newFinding(RuleBackfillInTx)
		fd.Detail = "the same transaction holds " + st.tx.strongMode + " on table " + st.tx.strong + " (line " + itoa(st.tx.strongAt.line) + ", " +
			statementName(st.tx.strongAt) + "), which blocks " + blocked(st.tx.strongMode) + a.txDetail(st)
		a.add(st, u, fd)
	}
	if st.currentLockFor != "" && !st.set().lockTimeout && !st.warnedLock {
		st.warnedLock = true
		fd := newFinding(RuleLockTimeout)
		fd.Detail = "first statement in the file that locks " + lockedWhat(st.currentLockFor)
		if st.currentLock != "" {
			fd.Detail = "first statement in the file that can wait for a lock: " + st.currentLockFor
			fd.Lock = st.currentLock
			if !queriesWait[st.currentLock] {
				fd.Reason = typeLockReason
			}
		}
		a.add(st, s, fd)
	}
	if (strong != "" || st.tx.strong != "") && !st.set().stmtTimeout && !st.warnedStmt {
		if strong == "" {
			strong = st.tx.strong
		}
		for _, f := range a.findings[st.firstFinding:] {
			if longUnderLock[f.Rule] {
				st.warnedStmt = true
				fd := newFinding(RuleStatementTimeout)
				fd.Detail = "first statement in the file that scans or rewrites " + lockedWhat(strong) + " while holding a lock that blocks it (" + f.Rule + ")"
				a.add(st, s, fd)
				break
			}
		}
	}
}

// longUnderLock are the rules about statements whose time grows with the
// table while they hold a lock the running release waits on: if one is
// accepted (an override), statement_timeout is what bounds it.
var longUnderLock = map[string]bool{
	RuleSetNotNull: true, RuleChangeColumnType: true, RuleCheckNotValid: true, RuleForeignKeyNotValid: true,
	RuleAddUniqueConstraint: true, RuleAddPrimaryKey: true, RuleIndexConcurrently: true, RuleTableRewrite: true,
	RuleVolatileDefault: true, RuleReindexConcurrently: true, RuleValidateSameTx: true, RuleDomainConstraint: true,
	RuleBackfillInTx: true, RuleRefreshMatView: true, RuleAttachPartition: true,
}

func lockedWhat(obj string) string {
	if strings.Contains(obj, " ") {
		return obj
	}
	return "table " + obj
}

// lockModes are LOCK TABLE's modes by number.
var lockModes = [...]string{1: "ACCESS SHARE", 2: "ROW SHARE", 3: "ROW EXCLUSIVE", 4: modeShareUpdateExcl,
	5: modeShare, 6: modeShareRowExcl, 7: modeExclusive, 8: modeAccessExcl}

// alterLock is the lock an ALTER TABLE subcommand takes on its table
// (PostgreSQL's AlterTableGetLockLevel, as pg_locks shows it): ACCESS
// EXCLUSIVE unless listed here. ATTACH PARTITION's lock on the partitioned
// table is SHARE UPDATE EXCLUSIVE from PostgreSQL 12 (the attached table's
// is noted on its own).
func alterLock(cmd pgparse.AlterTableCmd, pgMajor int) string {
	if cmd.Subtype == "AT_AttachPartition" && pgMajor < 12 {
		return modeAccessExcl
	}
	switch cmd.Subtype {
	case "AT_ValidateConstraint", "AT_SetStatistics", "AT_AttachPartition", "AT_ClusterOn", "AT_DropCluster",
		"AT_SetRelOptions", "AT_ResetRelOptions", "AT_DetachPartitionFinalize":
		return modeShareUpdateExcl
	case "AT_EnableTrig", "AT_EnableAlwaysTrig", "AT_EnableReplicaTrig", "AT_EnableTrigAll", "AT_EnableTrigUser",
		"AT_DisableTrig", "AT_DisableTrigAll", "AT_DisableTrigUser":
		return modeShareRowExcl
	case "AT_AddConstraint":
		var c pgparse.Constraint
		if cmd.Def.Into(&c) && c.Contype == "CONSTR_FOREIGN" {
			return modeShareRowExcl
		}
	case "AT_DetachPartition":
		var p pgparse.PartitionCmd
		if cmd.Def.Into(&p) && p.Concurrent {
			return modeShareUpdateExcl
		}
	}
	return modeAccessExcl
}

// statementName names a statement by its command ("CREATE INDEX").
func statementName(s *statement) string {
	switch s.stmt.Node.Type {
	case "AlterTableStmt":
		return "ALTER TABLE"
	case "IndexStmt":
		return "CREATE INDEX"
	case "CreateStmt":
		return "CREATE TABLE"
	case "CreateTrigStmt":
		return "CREATE TRIGGER"
	case "LockStmt":
		return "LOCK TABLE"
	}
	f := strings.Fields(s.text)
	if len(f) > 2 {
		f = f[:2]
	}
	return strings.ToUpper(strings.Join(f, " "))
}

// gate reports syntax the target server's version does not have.
func (a *analyzer) gate(st *fileState, s *statement, what string, since int) {
	if a.pgMajor >= since {
		return
	}
	fd := newFinding(RuleSyntaxTooNew)
	fd.Detail = fmt.Sprintf("%s needs PostgreSQL %d; postgres_version is %d", what, since, a.pgMajor)
	a.add(st, s, fd)
}

// columnGates checks a column definition's syntax against the version.
func (a *analyzer) columnGates(st *fileState, s *statement, def pgparse.ColumnDef) {
	for _, c := range pgparse.Constraints(def.Constraints) {
		switch c.Contype {
		case "CONSTR_IDENTITY":
			a.gate(st, s, "GENERATED ... AS IDENTITY", 10)
		case "CONSTR_GENERATED":
			a.gate(st, s, "GENERATED ALWAYS AS (...) STORED", 12)
		}
	}
}

// intoClause is the new relation of CREATE TABLE AS, CREATE MATERIALIZED
// VIEW and SELECT INTO.
type intoClause struct {
	Rel pgparse.RangeVar `json:"rel"`
}

// reSQLBlock is a PL/pgSQL block that is only SQL statements: BEGIN, the
// statements (group 1), an optional EXCEPTION section (group 2), END.
// Compiled on first use, as the layouts' are.
var reSQLBlock = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?is)^\s*BEGIN\s(.*?)(?:;?\s*\bEXCEPTION\s+(.*?))?;?\s*END\s*;?\s*$`)
})

// reNullHandlers is an EXCEPTION section whose every handler does nothing
// (WHEN duplicate_object THEN NULL, as ORMs write for idempotent DDL): the
// block's statements either run as written or, failing, leave nothing.
var reNullHandlers = sync.OnceValue(func() *regexp.Regexp {
	cond := `(?:SQLSTATE\s+'[0-9A-Z]{5}'|\w+)`
	return regexp.MustCompile(`(?is)^(?:WHEN\s+` + cond + `(?:\s+OR\s+` + cond + `)*\s+THEN\s+NULL\s*(?:;\s*|$))+$`)
})

// doBlock checks a DO block. When its body is BEGIN, plain SQL statements
// and END (with, at most, EXCEPTION handlers that only say NULL), each
// statement is checked as if written in the file at its own line (PL/pgSQL
// runs them as they are, in one transaction); any other body, or another
// language, is a body-not-checked warning.
func (a *analyzer) doBlock(st *fileState, s *statement, n pgparse.Node) {
	var d struct {
		Args []struct {
			DefElem *struct {
				Defname     string       `json:"defname"`
				Arg         pgparse.Node `json:"arg"`
				ArgLocation int          `json:"arg_location"`
			} `json:"DefElem"`
		} `json:"args"`
	}
	n.Into(&d)
	lang, body, at := "plpgsql", "", -1
	for _, arg := range d.Args {
		if e := arg.DefElem; e != nil {
			var v pgparse.String
			e.Arg.Into(&v)
			switch e.Defname {
			case "language":
				lang = strings.ToLower(v.Sval)
			case "as":
				body, at = v.Sval, e.ArgLocation
			}
		}
	}
	stmts, start, why := sqlBlock(lang, body)
	if why != "" {
		fd := newFinding(RuleBodyNotChecked)
		fd.Detail = "DO block at line " + itoa(s.line) + ": its body was not checked (" + why + ")"
		a.add(st, s, fd)
		return
	}
	// where the body starts in the file: after the opening quote of its
	// literal, when the literal holds it as written
	bodyAt := -1
	up := st.f.Up
	if at >= 0 && at < len(up) {
		if q := dollarTag(up, at); q != "" && strings.HasPrefix(up[at+len(q):], body) {
			bodyAt = at + len(q)
		} else if up[at] == '\'' && strings.HasPrefix(up[at+1:], body) {
			bodyAt = at + 1
		}
	}
	li := newLineIndex(up)
	inner := make([]statement, len(stmts))
	for i, ps := range stmts {
		text := body[start:][ps.Start:ps.End]
		inner[i] = statement{stmt: ps, line: s.line, text: collapse(ps.Text(body[start:])), allows: s.allows, block: s}
		if bodyAt >= 0 {
			inner[i].line = li.line(bodyAt + start + ps.Start + firstTokenOffset(text))
		}
	}
	was := st.doBlock
	st.doBlock = true
	for i := range inner {
		a.statement(st, &inner[i])
	}
	st.doBlock = was
	// the block's statements were checked one by one
	st.currentLockFor, st.currentLock, st.locked = "", "", nil
	st.firstFinding = len(a.findings)
}

// sqlBlock reads a DO block's body as SQL statements, with the offset in
// body they were read from; why says why it cannot.
func sqlBlock(lang, body string) ([]pgparse.Stmt, int, string) {
	if lang != "plpgsql" {
		return nil, 0, "LANGUAGE " + lang
	}
	m := reSQLBlock().FindStringSubmatchIndex(body)
	if m == nil {
		return nil, 0, "PL/pgSQL beyond BEGIN, SQL statements, END: declarations or labels"
	}
	if m[4] >= 0 && !reNullHandlers().MatchString(body[m[4]:m[5]]) {
		return nil, 0, "an EXCEPTION handler that does more than NULL"
	}
	stmts, err := pgparse.Parse(body[m[2]:m[3]])
	if err != nil {
		return nil, 0, "PL/pgSQL beyond plain SQL statements (IF, PERFORM, EXECUTE, RAISE, assignments, ...)"
	}
	for _, ps := range stmts {
		switch ps.Node.Type {
		case "TransactionStmt", "ExecuteStmt", "FetchStmt", "ClosePortalStmt":
			// COMMIT and ROLLBACK end the block's transaction; EXECUTE,
			// FETCH and CLOSE are PL/pgSQL's own there
			return nil, 0, "PL/pgSQL transaction control, EXECUTE or cursor commands"
		case "SelectStmt":
			if ps.Node.Contains("intoClause") { // SELECT ... INTO a variable
				return nil, 0, "SELECT ... INTO a PL/pgSQL variable"
			}
		}
	}
	return stmts, m[2], ""
}

// viewOf reads what a view's query reads.
func (a *analyzer) viewOf(st *fileState, query pgparse.Node) *viewState {
	v := &viewState{reads: map[relName]bool{}, cols: map[string]bool{}, columns: viewColumns(query)}
	for _, rv := range pgparse.RangeVars(query.Descendants("RangeVar")) {
		v.reads[a.rv(st, rv)] = true
	}
	for _, c := range query.ColumnRefNames() {
		v.cols[c] = true
	}
	return v
}

// selectStmt is the part of a SELECT that names its columns; a UNION's
// branches are SELECTs of their own.
type selectStmt struct {
	TargetList []pgparse.Node `json:"targetList"`
	Op         string         `json:"op"`
	Larg       *selectStmt    `json:"larg"`
}

// viewColumns are the names of a view's columns that its query gives (an
// alias, a plain column, or "*" and "t.*" for a star), in order; a column
// named by an expression is left out. A UNION's are its first branch's.
func viewColumns(query pgparse.Node) []string {
	var sel selectStmt
	if query.Type != "SelectStmt" || !query.Into(&sel) {
		return nil
	}
	for sel.Op != "" && sel.Op != "SETOP_NONE" && sel.Larg != nil {
		sel = *sel.Larg
	}
	var out []string
	for _, t := range sel.TargetList {
		var rt struct {
			Name string       `json:"name"`
			Val  pgparse.Node `json:"val"`
		}
		if !t.Into(&rt) {
			continue
		}
		var cr pgparse.ColumnRef
		switch {
		case rt.Name != "":
			out = append(out, rt.Name)
		case rt.Val.Type == "ColumnRef" && rt.Val.Into(&cr) && len(cr.Fields) > 0:
			if cr.Fields[len(cr.Fields)-1].Type == "A_Star" {
				out = append(out, strings.Join(append(pgparse.Strings(cr.Fields), "*"), "."))
			} else {
				out = append(out, pgparse.LastString(cr.Fields))
			}
		}
	}
	return out
}

// viewsFollow says that the views reading a renamed table or column keep
// working: PostgreSQL binds a view to what it reads, not to the names, and
// a view's own columns keep their names.
func viewsFollow(views []string) string {
	what := "view " + views[0] + " reads it and keeps working"
	if len(views) > 1 {
		what = "views " + strings.Join(views, ", ") + " read it and keep working"
	}
	return what + " (PostgreSQL follows the rename; a view's own columns keep their names)"
}

// createView follows CREATE [OR REPLACE] VIEW. Created in the same
// transaction as the DROP VIEW of an existing view of that name, it
// replaces that view: the running release sees the old view or the new
// one, never none, so the drop is not reported. Created as SELECT * of the
// table an existing table was renamed to in the same transaction, it keeps
// the old name working: the rename is reported as bridged.
func (a *analyzer) createView(st *fileState, s *statement, rv pgparse.RangeVar, query pgparse.Node, replace bool) {
	name := st.newRel(rv.Schemaname, rv.Relname)
	if replace {
		if r := a.rv(st, rv); a.schema.views[r] != nil {
			name = r
		}
	}
	view := a.viewOf(st, query)
	existing := replace && a.schema.views[name] != nil
	if d, ok := st.tx.dropped[name]; ok {
		delete(st.tx.dropped, name)
		existing = true
		var missing []string
		// a star in the new view may give any of the old columns
		if d.view != nil && !contains(view.columns, "*") {
			for _, c := range d.view.columns {
				if !contains(view.columns, c) {
					missing = append(missing, c)
				}
			}
		}
		if len(missing) == 0 {
			a.unreport(st, d.at, RuleDropTable, name)
		} else {
			for i := range a.findings {
				if f := &a.findings[i]; f.stmt == d.at && f.Rule == RuleDropTable && f.rel == name {
					f.Detail = "view " + name.String() + " is created again at line " + itoa(s.line) + " in the same transaction, but without the column(s) " + strings.Join(missing, ", ") + " it had: the running release's queries that read them fail"
				}
			}
		}
	}
	if r, ok := st.tx.renamed[name]; ok && len(view.reads) == 1 && view.reads[r.to] && len(view.cols) == 1 && view.cols["*"] {
		delete(st.tx.renamed, name)
		for i := range a.findings {
			if f := &a.findings[i]; f.stmt == r.at && f.Rule == RuleRenameTable && f.rel == name {
				f.bridged = true
				f.Detail = "view " + name.String() + " (line " + itoa(s.line) + ") selects * from " + r.to.String() + " in the same transaction and keeps the old name working: the running release's queries reach the table through it (a simple view is updatable); what a view does not take under the old name (ALTER TABLE, TRUNCATE, LOCK, COPY ... FROM) still fails, and the view is to be dropped once no release uses the old name"
			}
		}
		existing = true
	}
	a.schema.views[name] = view
	if !a.replaying && !existing {
		a.created[name] = true
	}
}

// unreport takes back the findings of rule about rel on an earlier statement.
func (a *analyzer) unreport(st *fileState, at *statement, rule string, rel relName) {
	kept := a.findings[:0]
	for _, f := range a.findings {
		if f.stmt != at || f.Rule != rule || f.rel != rel {
			kept = append(kept, f)
		}
	}
	st.firstFinding -= len(a.findings) - len(kept)
	a.findings = kept
}

// moveByName reports a function, procedure, type or domain the change did
// not create moving to another schema: the running release's calls and
// casts that name it unqualified stop finding it, while columns, views and
// triggers follow it (PostgreSQL binds them to the object). A warning, made
// blocking by the deployed code's uses of the name.
func (a *analyzer) moveByName(st *fileState, s *statement, objtype string, obj pgparse.Node, newschema string) {
	word, name := a.routineOrType(objtype, obj)
	if word == "" {
		return
	}
	fd := newFinding(RuleSetSchema)
	fd.Severity = Warning
	fd.Table = name
	fd.NewName = newschema + "." + name
	fd.Lock = "none beyond the catalog row it updates"
	fd.Safe = "put " + newschema + " in the running release's search_path first (ALTER ROLE ... SET search_path), then move it"
	if word != "type" && word != "domain" {
		fd.Safe += "; or leave a " + word + " with the old name that calls the moved one, and drop it once no release calls it"
	}
	fd.Detail = word + " " + name + " moves to schema " + newschema + ": the running release's queries that name it without a schema (calls, casts) no longer find it unless " + newschema + " is in their search_path; columns, views and triggers follow it"
	a.add(st, s, fd)
}

// routineOrType is what a statement names when it alters a function,
// procedure, routine, type or domain the change did not create: ("", "")
// for any other object, and for one no running release can use yet.
func (a *analyzer) routineOrType(objtype string, obj pgparse.Node) (word, name string) {
	word = map[string]string{"OBJECT_FUNCTION": "function", "OBJECT_PROCEDURE": "procedure", "OBJECT_ROUTINE": "routine",
		"OBJECT_TYPE": "type", "OBJECT_DOMAIN": "domain"}[objtype]
	if word == "" {
		return "", ""
	}
	name = pgparse.ObjectName(obj)
	var fn struct {
		Objname []pgparse.Node `json:"objname"`
	}
	if obj.Type == "ObjectWithArgs" && obj.Into(&fn) {
		name = pgparse.LastString(fn.Objname)
	}
	lower := strings.ToLower(name)
	created := a.createdFuncs
	if word == "type" || word == "domain" {
		created = a.createdTypes
	}
	if name == "" || created[lower] {
		return "", ""
	}
	return word, name
}

// renameByName checks ALTER FUNCTION, PROCEDURE, ROUTINE, TYPE or DOMAIN
// ... RENAME TO: the running release's calls and casts name the old one.
func (a *analyzer) renameByName(st *fileState, s *statement, objtype string, obj pgparse.Node, newname string) {
	word, name := a.routineOrType(objtype, obj)
	if word == "" {
		return
	}
	fd := newFinding(RuleRenameObject)
	fd.Table, fd.NewName = name, newname
	fd.Detail = word + " " + name + " becomes " + newname + "; columns, views and triggers that use it follow it"
	if word == "type" || word == "domain" {
		fd.Lock = lockTypeRow
		fd.Safe = "release code that no longer names " + name + " (casts, ::" + name + ") first, then rename it"
	} else {
		fd.Lock = "none beyond the catalog row it updates"
		fd.Safe = "create the " + word + " under the new name and leave " + name + " calling it; release code that calls the new name, then drop " + name
	}
	a.add(st, s, fd)
}

// setSchema checks ALTER TABLE, VIEW, MATERIALIZED VIEW, FOREIGN TABLE or
// SEQUENCE ... SET SCHEMA: for the running release the object is gone from
// where its queries look for it.
func (a *analyzer) setSchema(st *fileState, s *statement, objtype string, rv pgparse.RangeVar, newschema string) {
	old := a.rv(st, rv)
	moved := relName{newschema, old.name}
	a.schema.move(old, moved)
	if !a.existing(old) {
		a.created[moved] = true
		return
	}
	what := objectWord(objtype)
	if objtype == "OBJECT_SEQUENCE" {
		what = "sequence"
	}
	fd := newFinding(RuleSetSchema)
	fd.on(old)
	fd.NewName = newschema + "." + old.name
	fd.Detail = what + " " + old.String() + " moves to schema " + newschema + ": the running release's queries that name " + old.String() + " no longer find it"
	a.add(st, s, fd)
	st.locksTable(old.String(), modeAccessExcl)
}

func (a *analyzer) drop(st *fileState, s *statement, n pgparse.Node) {
	var d pgparse.DropStmt
	if !n.Into(&d) {
		return
	}
	switch d.RemoveType {
	case "OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE":
		for _, o := range d.Objects {
			table, ok := a.objectRel(st, o, 0)
			if !ok {
				continue
			}
			dependents, was := a.schema.viewsReading(table, ""), a.schema.views[table]
			delete(a.schema.tables, table)
			delete(a.schema.views, table)
			if !a.existing(table) {
				continue
			}
			fd := newFinding(RuleDropTable)
			fd.on(table)
			if d.RemoveType != "OBJECT_TABLE" {
				fd.Detail = "a " + objectWord(d.RemoveType) + " is dropped"
			}
			a.add(st, s, fd)
			// a plain view created again in the same transaction is
			// replaced, unless CASCADE took views that read it along
			if d.RemoveType == "OBJECT_VIEW" && st.inTx() && (d.Behavior != "DROP_CASCADE" || len(dependents) == 0) {
				if st.tx.dropped == nil {
					st.tx.dropped = map[relName]droppedView{}
				}
				st.tx.dropped[table] = droppedView{at: s, view: was}
			}
			st.locksTable(table.String(), modeAccessExcl)
		}
	case "OBJECT_INDEX":
		if d.Concurrent {
			if st.inTx() {
				a.add(st, s, a.txFinding(st, "DROP INDEX CONCURRENTLY"))
			}
			return
		}
		for _, o := range d.Objects {
			parts := pgparse.ObjectParts(o)
			if len(parts) == 0 {
				continue
			}
			schema := ""
			if len(parts) > 1 {
				schema = parts[len(parts)-2]
			}
			if ix := a.index(st, schema, parts[len(parts)-1]); !a.createdIndex[ix] {
				fd := newFinding(RuleDropIndexConcurrent)
				fd.Detail = "index " + ix.String()
				a.add(st, s, fd)
				st.locksTable("the table of index "+ix.String(), modeAccessExcl)
				break
			}
		}
	case "OBJECT_SCHEMA":
		for _, name := range d.ObjectNames() {
			a.schema.dropSchema(name)
		}
		fd := newFinding(RuleDropSchema)
		fd.Detail = "schema " + strings.Join(d.ObjectNames(), ", ")
		a.add(st, s, fd)
		st.locksTable("schema "+strings.Join(d.ObjectNames(), ", "), modeAccessExcl)
	case "OBJECT_TYPE", "OBJECT_DOMAIN":
		lock := lockDropType
		if d.Behavior == "DROP_CASCADE" {
			lock = lockDropCascade
		}
		st.locksType(typeDDL("DROP", d.RemoveType, strings.Join(d.ObjectNames(), ", ")), lock)
	case "OBJECT_SEQUENCE", "OBJECT_FUNCTION", "OBJECT_TRIGGER":
		st.locksTable(strings.ToLower(strings.TrimPrefix(d.RemoveType, "OBJECT_"))+" "+strings.Join(d.ObjectNames(), ", "), "")
	}
}

// alterDomain checks ALTER DOMAIN: adding a validated constraint, SET NOT
// NULL and VALIDATE CONSTRAINT check every column of the domain under SHARE
// on its tables; the other forms change catalog rows only.
func (a *analyzer) alterDomain(st *fileState, s *statement, d pgparse.AlterDomainStmt) {
	name := pgparse.LastString(d.TypeName)
	known := a.schema.domainConstraints[strings.ToLower(name)]
	if known == nil {
		known = map[string]bool{}
		a.schema.domainConstraints[strings.ToLower(name)] = known
	}
	switch d.Subtype {
	case "C":
		var c pgparse.Constraint
		if d.Def.Into(&c) {
			a.domainConstraint(strings.ToLower(name), c)
		}
	case "O":
		known["NOT NULL"] = true
	case "N":
		delete(known, "NOT NULL")
	case "X":
		delete(known, d.Name)
	}
	scans := false
	switch d.Subtype {
	case "C": // ADD CONSTRAINT
		var c pgparse.Constraint
		if d.Def.Into(&c) && !c.SkipValidation && (c.Contype == "CONSTR_CHECK" || c.Contype == "CONSTR_NOTNULL") {
			fd := newFinding(RuleDomainConstraint)
			fd.Detail = "domain " + name
			a.add(st, s, fd)
			scans = true
		}
	case "O": // SET NOT NULL scans the same way
		fd := newFinding(RuleDomainConstraint)
		fd.Detail = "domain " + name + ": SET NOT NULL checks every column of the domain"
		a.add(st, s, fd)
		scans = true
	case "V": // VALIDATE CONSTRAINT
		scans = true
	case "N": // DROP NOT NULL: every column of the domain may hold NULL
		if !a.createdTypes[strings.ToLower(name)] {
			fd := newFinding(RuleDropNotNull)
			fd.Detail = "domain " + name + ": every column of the domain may hold NULL from now on" + a.typeUsedBy(strings.ToLower(name))
			fd.Lock = lockTypeRow
			a.add(st, s, fd)
		}
	case "T": // SET DEFAULT, DROP DEFAULT (no def, or NULL)
		if (d.Def.Type == "" || pgparse.IsNull(d.Def)) && !a.createdTypes[strings.ToLower(name)] {
			fd := newFinding(RuleDropDefault)
			fd.Detail = "domain " + name + ": INSERTs that leave out a column of the domain without a default of its own get NULL instead of the domain's default" + a.typeUsedBy(strings.ToLower(name))
			fd.Lock = lockTypeRow
			a.add(st, s, fd)
		}
	}
	switch {
	case scans:
		st.locksTable("the tables with a column of domain "+name, modeShare)
	case d.Subtype == "X": // DROP CONSTRAINT
		st.locksType("ALTER DOMAIN "+name+" DROP CONSTRAINT", lockDomainDrop)
	default:
		st.locksType("ALTER DOMAIN "+name, lockTypeRow)
	}
}

// alterCompositeType checks ALTER TYPE ... DROP and ALTER ATTRIBUTE of a
// composite type the running release may use (ADD ATTRIBUTE takes nothing
// from it). DROP ATTRIBUTE removes the attribute from every value of the
// type, with no rewrite: the running release's reads of it fail, as for a
// dropped column. ALTER ATTRIBUTE ... TYPE of a type a table column uses
// is refused by PostgreSQL, CASCADE or not.
func (a *analyzer) alterCompositeType(st *fileState, s *statement, typ string, cmds []pgparse.Node) {
	if a.createdTypes[typ] {
		return
	}
	for _, cmd := range pgparse.AlterTableCmds(cmds) {
		switch cmd.Subtype {
		case "AT_DropColumn":
			fd := newFinding(RuleDropColumn)
			a.onType(&fd, typ)
			fd.Column = cmd.Name
			fd.Detail = "attribute " + cmd.Name + " of composite type " + typ + a.typeUsedBy(typ) + " is dropped from every value of the type (no rewrite: the data is gone at once): the running release's queries that read or write (column)." + cmd.Name + " fail"
			fd.Lock = lockCompositeType
			a.add(st, s, fd)
		case "AT_AlterColumnType":
			if users := a.typeColumns(typ); len(users) > 0 {
				fd := newFinding(RuleChangeColumnType)
				a.onType(&fd, typ)
				fd.Column = cmd.Name
				fd.Detail = "attribute " + cmd.Name + " of composite type " + typ + ", which column " + strings.Join(users, ", ") + " uses: PostgreSQL refuses to change an attribute's type while a table column has the type (cannot alter type because column uses it), CASCADE or not, so the migration fails"
				fd.Lock = lockCompositeType
				a.add(st, s, fd)
			}
		}
	}
}

// typeColumns are the table columns (table.column) of a type or of arrays
// of it, sorted.
func (a *analyzer) typeColumns(typ string) []string {
	var out []string
	for name, t := range a.schema.tables {
		for col, c := range t.cols {
			if c.typ == typ || c.typ == typ+"[]" {
				out = append(out, name.String()+"."+col)
			}
		}
	}
	sort.Strings(out)
	return out
}

// typeUsedBy names the columns of a type, for a detail: " (column users.address)".
func (a *analyzer) typeUsedBy(typ string) string {
	if users := a.typeColumns(typ); len(users) > 0 {
		return " (column " + strings.Join(users, ", ") + ")"
	}
	return ""
}

// onType says what the deployed code is searched for when a type's
// attribute goes: the one table whose column has the type (queries name
// the table), or else the type.
func (a *analyzer) onType(fd *Finding, typ string) {
	tables := map[relName]bool{}
	for name, t := range a.schema.tables {
		for _, c := range t.cols {
			if c.typ == typ || c.typ == typ+"[]" {
				tables[name] = true
			}
		}
	}
	if len(tables) == 1 {
		for name := range tables {
			fd.on(name)
		}
		return
	}
	fd.Table = typ
}

// typeDDL names a statement on a type or domain: typeDDL("DROP",
// "OBJECT_DOMAIN", "d") is "DROP DOMAIN d".
func typeDDL(verb, objtype, name string) string {
	if objtype == "OBJECT_DOMAIN" || objtype == "OBJECT_DOMCONSTRAINT" {
		return verb + " DOMAIN " + name
	}
	return verb + " TYPE " + name
}

func (a *analyzer) reindex(st *fileState, s *statement, n pgparse.Node) {
	var r pgparse.ReindexStmt
	if !n.Into(&r) {
		return
	}
	if pgparse.OptionString(r.Params, "tablespace") != "" {
		a.gate(st, s, "REINDEX (TABLESPACE ...)", 14)
	}
	target := r.Name
	var rel relName
	if r.Relation != nil {
		rel = a.rv(st, *r.Relation)
		if r.Kind == "REINDEX_OBJECT_INDEX" {
			rel = a.index(st, r.Relation.Schemaname, r.Relation.Relname)
		}
		target = rel.String()
	}
	if pgparse.OptionOn(r.Params, "concurrently") {
		a.gate(st, s, "REINDEX ... CONCURRENTLY", 12)
		if st.inTx() {
			a.add(st, s, a.txFinding(st, "REINDEX CONCURRENTLY"))
		}
		if r.Kind == "REINDEX_OBJECT_SYSTEM" {
			a.gate(st, s, "REINDEX SYSTEM CONCURRENTLY (no version has it)", 1000)
		}
		return
	}
	if st.inTx() && (r.Kind == "REINDEX_OBJECT_SYSTEM" || r.Kind == "REINDEX_OBJECT_DATABASE" || r.Kind == "REINDEX_OBJECT_SCHEMA") {
		fd := a.txFinding(st, "REINDEX "+strings.TrimPrefix(r.Kind, "REINDEX_OBJECT_"))
		fd.Reason = "REINDEX SCHEMA, DATABASE and SYSTEM cannot run inside a transaction block: the migration fails"
		a.add(st, s, fd)
	}
	if r.Relation != nil && (!a.existing(rel) || a.createdIndex[rel]) {
		return
	}
	fd := newFinding(RuleReindexConcurrently)
	if r.Kind == "REINDEX_OBJECT_SYSTEM" {
		fd.Severity = Warning
		fd.Detail = "REINDEX SYSTEM " + r.Name + " rebuilds the system catalogs' indexes, which has no CONCURRENTLY form"
		fd.Safe = "run it in a maintenance window, not in a deploy migration"
		fd.Lock = "ACCESS EXCLUSIVE on each system catalog's indexes as it is rebuilt (every query waits)"
	} else if a.pgMajor < 12 {
		fd.Severity = Warning
		fd.Detail = "CONCURRENTLY needs PostgreSQL 12; on " + itoa(a.pgMajor) + " build a new index CONCURRENTLY and drop the old one instead"
		fd.Safe = "CREATE INDEX CONCURRENTLY a copy, DROP INDEX CONCURRENTLY the old one, rename the copy"
	}
	if target != "" {
		st.locksTable(lockTargetOfReindex(r.Kind, target), modeShare)
	}
	a.add(st, s, fd)
}

func lockTargetOfReindex(kind, name string) string {
	switch kind {
	case "REINDEX_OBJECT_TABLE":
		return name
	case "REINDEX_OBJECT_INDEX":
		return "the table of index " + name
	}
	return strings.ToLower(strings.TrimPrefix(kind, "REINDEX_OBJECT_")) + " " + name
}

func (a *analyzer) vacuum(st *fileState, s *statement, n pgparse.Node) {
	var v pgparse.VacuumStmt
	if !n.Into(&v) {
		return
	}
	if v.IsVacuumcmd && st.inTx() {
		fd := a.txFinding(st, "VACUUM")
		fd.Reason = "VACUUM cannot run inside a transaction block: the migration fails"
		a.add(st, s, fd)
	}
	for opt, since := range map[string]int{"skip_locked": 12, "index_cleanup": 12, "truncate": 12, "parallel": 13,
		"process_toast": 14, "buffer_usage_limit": 16, "process_main": 16, "skip_database_stats": 16, "only_database_stats": 16} {
		for _, o := range pgparse.Options(v.Options) {
			if o.Defname == opt {
				a.gate(st, s, "VACUUM ("+strings.ToUpper(opt)+")", since)
			}
		}
	}
	if !v.IsVacuumcmd || !pgparse.OptionOn(v.Options, "full") {
		return
	}
	fd := newFinding(RuleTableRewrite)
	fd.Detail = "VACUUM FULL"
	var tables []string
	for _, r := range v.Rels {
		var vr pgparse.VacuumRelation
		if r.Into(&vr) && vr.Relation != nil {
			if table := a.rv(st, *vr.Relation); a.existing(table) {
				tables = append(tables, table.String())
				st.locksTable(table.String(), modeAccessExcl)
			}
		}
	}
	switch {
	case len(v.Rels) == 0:
		st.locksTable("every table of the database", modeAccessExcl)
	case len(tables) == 0:
		return // only tables created in this change
	default:
		fd.Lock += " on " + strings.Join(tables, ", ")
	}
	a.add(st, s, fd)
}

// txFinding reports a statement that cannot run in the transaction around it.
func (a *analyzer) txFinding(st *fileState, what string) Finding {
	fd := newFinding(RuleConcurrentlyInTx)
	fd.Detail = what + a.txDetail(st)
	switch {
	case st.doBlock:
		fd.Safe = "run it as a statement of its own, outside the DO block (and outside any transaction)"
	case !st.explicitTx && st.f.txFix != "":
		fd.Safe = st.f.txFix
	}
	return fd
}

func (a *analyzer) txDetail(st *fileState) string {
	if st.explicitTx {
		return " inside BEGIN ... COMMIT written in the file"
	}
	if st.doBlock && !st.toolTx {
		return " inside a DO block, whose statements run as one transaction"
	}
	return " in a file that " + string(st.f.Format) + " runs in one transaction"
}

// recordConstraint keeps the CHECK constraints that prove columns NOT
// NULL, and PRIMARY KEY and UNIQUE ones with their columns, in the schema
// (column is set for a constraint written on a column). A constraint
// without a name gets PostgreSQL's: table_pkey, table_col1_col2_key, and
// for a CHECK table_col_check when it names one column, else table_check
// (with a number when the name is taken).
func (a *analyzer) recordConstraint(table relName, c pgparse.Constraint, column string) {
	switch c.Contype {
	case "CONSTR_CHECK":
		if cols := notNullColumns(c.RawExpr); len(cols) > 0 {
			t := a.schema.table(table)
			name := c.Conname
			if name == "" {
				name = checkName(t, table, c.RawExpr)
			}
			t.checks[name] = &checkState{columns: cols, valid: !c.SkipValidation}
		}
	case "CONSTR_PRIMARY", "CONSTR_UNIQUE":
		if name, cols, ok := keyOf(table, c, column); ok {
			a.schema.table(table).keys[name] = cols
		}
	}
}

// keyOf is the name and columns of a PRIMARY KEY or UNIQUE constraint
// (cols nil when not known: USING INDEX); ok is false for other kinds.
func keyOf(table relName, c pgparse.Constraint, column string) (name string, cols []string, ok bool) {
	if c.Contype != "CONSTR_PRIMARY" && c.Contype != "CONSTR_UNIQUE" {
		return "", nil, false
	}
	cols = pgparse.Strings(c.Keys)
	if column != "" {
		cols = []string{column}
	}
	name = c.Conname
	switch {
	case name != "":
	case c.Contype == "CONSTR_PRIMARY":
		name = table.name + "_pkey"
	case len(cols) > 0:
		name = table.name + "_" + strings.Join(cols, "_") + "_key"
	default:
		return "", nil, false
	}
	if len(cols) == 0 {
		cols = nil
	}
	return name, cols, true
}

// identityAlways reports an ADD GENERATED ALWAYS AS IDENTITY, or a SET
// GENERATED ALWAYS: from then on PostgreSQL refuses a value given for the
// column ('a' is pg_attribute.attidentity's "always").
func identityAlways(cmd pgparse.AlterTableCmd) bool {
	if cmd.Subtype == "AT_AddIdentity" {
		var c pgparse.Constraint
		return cmd.Def.Into(&c) && c.GeneratedWhen == "a"
	}
	var list struct {
		Items []pgparse.Node `json:"items"`
	}
	if !cmd.Def.Into(&list) {
		return false
	}
	for _, o := range pgparse.Options(list.Items) {
		var i struct {
			Ival int `json:"ival"`
		}
		if o.Defname == "generated" && o.Arg.Into(&i) && i.Ival == 'a' {
			return true
		}
	}
	return false
}

func (a *analyzer) alterTable(st *fileState, s *statement, table relName, cmd pgparse.AlterTableCmd) {
	existing := a.existing(table)
	col := cmd.Name
	// added earlier in this change: no running release uses it (for the
	// rules about the code), but the table's rows are there (for the rules
	// about locks and scans)
	added := a.addedColumns[key(table, col)]
	fresh := !existing || added
	state := a.schema.col(table, col)
	switch cmd.Subtype {
	case "AT_AddColumn":
		var def pgparse.ColumnDef
		if !cmd.Def.Into(&def) {
			return
		}
		a.columnGates(st, s, def)
		if !a.replaying {
			a.addedColumns[key(table, def.Colname)] = true
		}
		a.schema.table(table).cols[def.Colname] = columnFrom(def)
		for _, c := range pgparse.Constraints(def.Constraints) {
			a.recordConstraint(table, c, def.Colname)
			a.locksReferenced(st, c)
		}
		if existing {
			a.addColumn(st, s, table, def)
		}
	case "AT_DropColumn":
		if t := a.schema.tables[table]; t != nil {
			delete(t.cols, col)
		}
		if !fresh {
			a.add(st, s, columnFinding(RuleDropColumn, table, col))
		}
	case "AT_AlterColumnType":
		var def pgparse.ColumnDef
		cmd.Def.Into(&def)
		typ, mods, coll := typeName(def.TypeName), typmods(def.TypeName), def.Collation()
		// USING col::<the new type> (Django writes it on every type change)
		// is the cast PostgreSQL applies without USING: the same rewrite
		// decision; any other expression rewrites
		using := def.RawDefault.Type != "" && !castOfColumn(def.RawDefault, col, typ, mods)
		defer func() {
			if state != nil {
				state.typ, state.typmods, state.collation = typ, mods, coll
			}
		}()
		if !existing {
			return
		}
		if typ == "json" {
			fd := columnFinding(RuleJSONColumn, table, col)
			fd.Detail = "column " + col + " becomes json"
			a.add(st, s, fd)
		}
		if views := a.schema.viewsReading(table, col); len(views) > 0 {
			fd := columnFinding(RuleChangeColumnType, table, col)
			fd.Severity = Blocking
			fd.Detail = "view " + strings.Join(views, ", ") + " reads column " + col + ": PostgreSQL refuses to change the type of a column a view or materialized view uses (cannot alter type of a column used by a view or rule), even when no rewrite is needed, so the migration fails; drop the view and create it again around the change, in the same transaction"
			a.add(st, s, fd)
			return
		}
		if state != nil && noRewrite(state, typ, mods) && !using {
			// binary coercible: the table stays; its indexes on the column
			// are rebuilt when the collation changes (no COLLATE is the
			// type's default), under the ALTER's ACCESS EXCLUSIVE
			indexes := a.schema.indexesOn(table, col)
			if coll == state.collation || len(indexes) == 0 {
				return // PostgreSQL changes only the catalog
			}
			fd := columnFinding(RuleChangeColumnType, table, col)
			fd.Detail = "the collation of column " + col + " changes (" + collationText(state.collation) + " to " + collationText(coll) + "): the table is not rewritten, but PostgreSQL rebuilds " + strings.Join(indexes, ", ") + " while every read and write waits"
			a.add(st, s, fd)
			return
		}
		fd := columnFinding(RuleChangeColumnType, table, col)
		fd.Detail = "column " + col + " becomes " + typeText(typ, mods)
		switch {
		case state != nil && state.typ == "timestamp" && typ == "timestamptz" && a.pgMajor >= 12:
			fd.Severity = Warning
			fd.Detail = "column " + col + " is timestamp and becomes timestamptz: PostgreSQL 12+ skips the rewrite only when the migration's session has TimeZone UTC (SET TimeZone = 'UTC' first); otherwise the table is rewritten"
		case state != nil:
			fd.Detail = "column " + col + " is " + typeText(state.typ, state.typmods) + " and becomes " + typeText(typ, mods) + ": PostgreSQL rewrites the table and its indexes"
			if added {
				fd.Detail += " (the column was added earlier in this change, but the table's rows are all there)"
			}
		case (typ == "text" || typ == "varchar") && len(mods) == 0 && !using:
			fd.Severity = Warning
			fd.Detail += ": safe (no rewrite) only if the column is already varchar or text; otherwise the table is rewritten (its type is not known from the migrations)"
		case widening[typ] != "" && !using:
			fd.Severity = Warning
			fd.Detail += ": safe (no rewrite) only if the column is already " + typ + " with " + widening[typ] + "; otherwise the table is rewritten (its type is not known from the migrations)"
		}
		a.add(st, s, fd)
	case "AT_SetNotNull":
		a.setNotNull(st, s, table, col, "")
	case "AT_DropNotNull":
		if state != nil {
			state.notNull = false
		}
		if !fresh {
			a.add(st, s, columnFinding(RuleDropNotNull, table, col))
		}
	case "AT_ColumnDefault":
		had := state == nil || state.hasDefault
		// SET DEFAULT NULL drops the default as DROP DEFAULT does
		dflt := cmd.Def.Type != "" && !pgparse.IsNull(cmd.Def)
		if state != nil {
			state.hasDefault = dflt
		}
		// a NOT NULL column added in this change: no running release
		// writes it, so without the default each of its INSERTs fails
		mustWrite := existing && added && state != nil && state.notNull
		if !dflt && had && (!fresh || mustWrite) {
			fd := columnFinding(RuleDropDefault, table, col)
			if cmd.Def.Type != "" {
				fd.Detail = "SET DEFAULT NULL drops the default"
			}
			if mustWrite {
				fd.Severity = Blocking
				fd.Detail = "column " + col + " was added NOT NULL earlier in this change; without its default every INSERT of the running release, which does not know the column, fails"
				fd.Safe = "keep the default (it filled the existing rows without a rewrite); drop it in a later release, once every running release writes the column"
			}
			a.add(st, s, fd)
		}
	case "AT_AddIdentity", "AT_SetIdentity":
		if !fresh && identityAlways(cmd) {
			fd := columnFinding(RuleIdentityAlways, table, col)
			fd.Detail = col + " becomes GENERATED ALWAYS: each INSERT of the running release that gives " + col + " a value (without OVERRIDING SYSTEM VALUE), and each UPDATE that sets it, fails"
			a.add(st, s, fd)
		}
	case "AT_DropIdentity":
		// the identity was the column's default, and the column stays NOT NULL
		if state != nil {
			state.hasDefault = false
		}
		if !fresh {
			fd := columnFinding(RuleDropDefault, table, col)
			fd.Detail = "DROP IDENTITY removes the value PostgreSQL generated for " + col + ", which stays NOT NULL: each INSERT of the running release that leaves it out fails"
			a.add(st, s, fd)
		}
	case "AT_DropConstraint":
		t := a.schema.tables[table]
		var cols []string
		isKey := false
		if t != nil {
			cols, isKey = t.keys[col]
			delete(t.keys, col)
			delete(t.checks, col)
		}
		if !existing || !isKey && !strings.HasSuffix(col, "_pkey") && !strings.HasSuffix(col, "_key") {
			return
		}
		// swapped in the same statement for a key of the same name on the
		// same columns (or built USING INDEX, whose columns are not known)
		if again, ok := st.keysAdded[col]; ok && (again == nil || cols == nil || sameColumns(strings.Join(again, ","), cols)) {
			return
		}
		fd := newFinding(RuleDropUniqueConstraint)
		fd.on(table)
		fd.key = &droppedKey{name: col, cols: cols}
		fd.Detail = "constraint " + col + " on " + table.String()
		if len(cols) > 0 {
			fd.Detail += " (" + strings.Join(cols, ", ") + ")"
		} else if !isKey {
			fd.Detail += " (by its name a primary key or unique constraint; its columns are not known from the migrations)"
		}
		a.add(st, s, fd)
	case "AT_DropExpression":
		a.gate(st, s, "ALTER COLUMN ... DROP EXPRESSION", 13)
	case "AT_SetExpression":
		// a stored generated column is computed again for every row
		a.gate(st, s, "ALTER COLUMN ... SET EXPRESSION", 17)
		if existing {
			fd := columnFinding(RuleTableRewrite, table, col)
			fd.Detail = "SET EXPRESSION of generated column " + col + ": PostgreSQL computes it again for every row"
			a.add(st, s, fd)
		}
	case "AT_SetAccessMethod":
		a.gate(st, s, "ALTER TABLE ... SET ACCESS METHOD", 15)
		if existing {
			fd := newFinding(RuleTableRewrite)
			fd.Detail = "SET ACCESS METHOD"
			fd.on(table)
			a.add(st, s, fd)
		}
	case "AT_AddConstraint":
		var c pgparse.Constraint
		if !cmd.Def.Into(&c) {
			return
		}
		a.recordConstraint(table, c, "")
		a.locksReferenced(st, c)
		if c.SkipValidation && c.Conname != "" && st.inTx() {
			if st.tx.notValid == nil {
				st.tx.notValid = map[colName]bool{}
			}
			st.tx.notValid[key(table, c.Conname)] = true
		}
		if existing {
			a.constraint(st, s, table, c, "")
		}
	case "AT_ValidateConstraint":
		if t := a.schema.tables[table]; t != nil && t.checks[cmd.Name] != nil {
			t.checks[cmd.Name].valid = true
		}
		if st.tx.notValid[key(table, cmd.Name)] && existing {
			fd := newFinding(RuleValidateSameTx)
			fd.Detail = "constraint " + cmd.Name + " was added NOT VALID earlier in the same transaction" + a.txDetail(st)
			fd.Lock = mustRule(RuleValidateSameTx).Lock + " on " + table.String()
			a.add(st, s, fd)
		}
	case "AT_DetachPartition":
		var p pgparse.PartitionCmd
		cmd.Def.Into(&p)
		if p.Concurrent {
			a.gate(st, s, "DETACH PARTITION ... CONCURRENTLY", 14)
			if st.inTx() {
				a.add(st, s, a.txFinding(st, "DETACH PARTITION CONCURRENTLY"))
			}
			return
		}
		if !existing {
			return
		}
		fd := newFinding(RuleDetachPartition)
		part := a.rv(st, p.Name)
		fd.Detail = "partition " + part.String() + " of " + table.String()
		fd.Lock = "ACCESS EXCLUSIVE on " + table.String() + " and " + part.String() + " (blocks every read and write of the partitioned table)"
		if a.pgMajor < 14 {
			fd.Severity = Warning
			fd.Detail += "; CONCURRENTLY needs PostgreSQL 14, so on " + itoa(a.pgMajor) + " run it when the table is quiet"
		}
		a.add(st, s, fd)
	case "AT_AttachPartition":
		var p pgparse.PartitionCmd
		cmd.Def.Into(&p)
		part := a.rv(st, p.Name)
		if !a.existing(part) {
			return // created in this change: no running release uses it
		}
		st.locksTable(part.String(), modeAccessExcl)
		fd := newFinding(RuleAttachPartition)
		fd.on(part)
		fd.Detail = "table " + part.String() + " becomes a partition of " + table.String()
		fd.Lock = "ACCESS EXCLUSIVE on " + part.String() + " (every read and write of it waits, through the scan) and SHARE UPDATE EXCLUSIVE on " + table.String() + " (its reads and writes go on)"
		if a.pgMajor < 12 && existing {
			fd.Severity = Blocking
			fd.Lock = "ACCESS EXCLUSIVE on " + table.String() + " and " + part.String() + " (every read and write of both waits, through the scan)"
			fd.Detail += "; before PostgreSQL 12 the partitioned table is locked ACCESS EXCLUSIVE too"
		}
		a.add(st, s, fd)
	case "AT_SetLogged", "AT_SetUnLogged", "AT_SetTableSpace":
		if existing {
			fd := newFinding(RuleTableRewrite)
			fd.Detail = map[string]string{"AT_SetLogged": "SET LOGGED", "AT_SetUnLogged": "SET UNLOGGED", "AT_SetTableSpace": "SET TABLESPACE"}[cmd.Subtype]
			fd.on(table)
			a.add(st, s, fd)
		}
	}
}

func itoa(n int) string { return fmt.Sprint(n) }

// toolTables are the migration tools' own bookkeeping tables, which the
// tool writes in the migration's transaction and no release reads.
var toolTables = map[string]bool{"alembic_version": true, "schema_migrations": true, "flyway_schema_history": true,
	"goose_db_version": true, "django_migrations": true}

// castOfColumn reports whether expr is the column col, unqualified, cast to
// the type typ with the typmods mods ("foo"::varchar(255)).
func castOfColumn(expr pgparse.Node, col, typ string, mods []string) bool {
	var tc pgparse.TypeCast
	var cr pgparse.ColumnRef
	if expr.Type != "TypeCast" || !expr.Into(&tc) || tc.Arg.Type != "ColumnRef" || !tc.Arg.Into(&cr) ||
		len(cr.Fields) != 1 || cr.Fields[0].Type != "String" {
		return false
	}
	return pgparse.LastString(cr.Fields) == col && typeName(tc.TypeName) == typ &&
		strings.Join(typmods(tc.TypeName), ",") == strings.Join(mods, ",")
}

// domainConstraint records a constraint of a domain, under its name or
// PostgreSQL's for it (domain_check; NOT NULL has none).
func (a *analyzer) domainConstraint(domain string, c pgparse.Constraint) {
	switch c.Contype {
	case "CONSTR_NOTNULL":
		a.schema.domainConstraints[domain]["NOT NULL"] = true
	case "CONSTR_CHECK":
		name := c.Conname
		if name == "" {
			name = domain + "_check"
		}
		a.schema.domainConstraints[domain][name] = true
	}
}

// callsDefined reports a SELECT that calls functions the migrations define
// (deployed or in this change): their bodies run during the migration, as
// a procedure's under CALL, and are not checked.
func (a *analyzer) callsDefined(st *fileState, s *statement, n pgparse.Node) {
	var defined []string
	for _, fn := range n.FuncNames() {
		if fn = strings.ToLower(fn); a.schema.funcs[fn] != "" && !contains(defined, fn) {
			defined = append(defined, fn)
		}
	}
	if len(defined) > 0 {
		fd := newFinding(RuleBodyNotChecked)
		fd.Detail = "SELECT at line " + itoa(s.line) + " runs " + strings.Join(defined, ", ") + ", defined by the migrations, during the migration: its body was not checked"
		a.add(st, s, fd)
	}
}

func collationText(c string) string {
	if c == "" {
		return "the type's default"
	}
	return `"` + c + `"`
}

// setNotNull checks a column of an existing table becoming NOT NULL, by
// ALTER COLUMN ... SET NOT NULL or, when via says so, by a statement that
// PostgreSQL turns into one (PRIMARY KEY USING INDEX of a nullable column),
// and records that it is NOT NULL from now on.
func (a *analyzer) setNotNull(st *fileState, s *statement, table relName, col, via string) {
	state := a.schema.col(table, col)
	defer func() {
		if state != nil {
			state.notNull = true
		}
	}()
	if !a.existing(table) {
		return
	}
	if state != nil && state.notNull {
		return // already NOT NULL: nothing to check
	}
	proven := a.schema.validNotNullCheck(table, col, st.dropsConstraints)
	// added without a default and never set since: NULL in every row, so
	// no check can have proven it NOT NULL on a table with rows
	allNull := a.addedColumns[key(table, col)] && state != nil && !state.hasDefault && !a.assigned[key(table, col)]
	if proven && a.pgMajor >= 12 && !allNull {
		return
	}
	fd := columnFinding(RuleSetNotNull, table, col)
	if allNull {
		fd.Detail = "column " + col + " was added earlier in this change without a DEFAULT and no UPDATE sets it: every existing row holds NULL, so this fails on a table with rows (after scanning it)"
		if proven {
			fd.Detail += "; so does the VALIDATE CONSTRAINT of the CHECK that proves it NOT NULL"
		}
		// a check validated on NULLs fails too: the rows need values first
		fd.Safe = "give the rows a value first: add the column with a constant DEFAULT (no rewrite from 11), or backfill it in batches; then validate a NOT VALID check and SET NOT NULL"
	} else if proven {
		fd.Detail = "a validated CHECK (" + col + " IS NOT NULL) exists, but PostgreSQL uses it to skip the scan only from version 12"
	} else if contains(st.dropsProof, col) {
		fd.Detail = "the validated CHECK that proves " + col + " NOT NULL is dropped by the same ALTER TABLE, which PostgreSQL does first: SET NOT NULL scans the table (drop the check in a statement of its own, after)"
	}
	if via != "" {
		fd.Detail = strings.TrimSuffix(via+": column "+col+" is not NOT NULL, so PostgreSQL sets it NOT NULL first, scanning the table under ACCESS EXCLUSIVE; "+fd.Detail, "; ")
		fd.Safe = "before the key: " + fd.Safe
	}
	a.add(st, s, fd)
}

// widening says, for the types whose limit or precision can be raised
// without a rewrite, what the old column must have been for that.
var widening = map[string]string{
	"varchar":     "a limit no longer than the new one",
	"varbit":      "a limit no longer than the new one",
	"numeric":     "the same scale and a precision no larger than the new one",
	"timestamp":   "a precision no larger than the new one",
	"timestamptz": "a precision no larger than the new one",
	"time":        "a precision no larger than the new one",
	"timetz":      "a precision no larger than the new one",
	"interval":    "the same fields and a precision no larger than the new one",
}

// locksReferenced notes the SHARE ROW EXCLUSIVE a foreign key takes on the
// table it references.
func (a *analyzer) locksReferenced(st *fileState, c pgparse.Constraint) {
	if c.Contype == "CONSTR_FOREIGN" && c.Pktable != nil {
		if ref := a.rv(st, *c.Pktable); a.existing(ref) {
			st.locksTable(ref.String(), modeShareRowExcl)
		}
	}
}

// addColumn checks ADD COLUMN on a table the running release uses.
func (a *analyzer) addColumn(st *fileState, s *statement, table relName, def pgparse.ColumnDef) {
	notNull := def.IsNotNull
	var dflt *pgparse.Node // DEFAULT NULL is none: every row holds NULL
	if def.RawDefault.Type != "" && !pgparse.IsNull(def.RawDefault) {
		dflt = &def.RawDefault
	}
	var generated, identity bool
	for _, c := range pgparse.Constraints(def.Constraints) {
		switch c.Contype {
		case "CONSTR_NOTNULL":
			notNull = true
		case "CONSTR_DEFAULT":
			if expr := c.RawExpr; !pgparse.IsNull(expr) {
				dflt = &expr
			}
		case "CONSTR_GENERATED":
			generated = true
		case "CONSTR_IDENTITY":
			identity = true
		case "CONSTR_PRIMARY", "CONSTR_UNIQUE", "CONSTR_EXCLUSION", "CONSTR_CHECK", "CONSTR_FOREIGN":
			a.constraint(st, s, table, c, def.Colname)
		}
	}
	typ := strings.ToLower(def.TypeName.Name())
	if typ == "json" {
		fd := columnFinding(RuleJSONColumn, table, def.Colname)
		fd.Detail = "column " + def.Colname + " is json"
		a.add(st, s, fd)
	}
	// a NOT NULL domain makes the column NOT NULL
	notNull = notNull || a.schema.domainConstraints[typ]["NOT NULL"]
	if len(a.schema.domainConstraints[typ]) > 0 {
		fd := columnFinding(RuleTableRewrite, table, def.Colname)
		fd.Detail = "column " + def.Colname + " is of domain " + typ + ", which has constraints: PostgreSQL rewrites the table to check them on every row, with or without a DEFAULT"
		fd.Safe = "add the column with the domain's base type (or a domain without constraints), then a CHECK NOT VALID and VALIDATE CONSTRAINT in a later migration"
		a.add(st, s, fd)
	}
	serial := typ == "serial" || typ == "bigserial" || typ == "smallserial" || typ == "serial2" || typ == "serial4" || typ == "serial8"
	fd := columnFinding(RuleVolatileDefault, table, def.Colname)
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
		switch vol, fn := a.volatility(*dflt); vol {
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
		a.add(st, s, columnFinding(RuleAddNotNullColumn, table, def.Colname))
	}
}

// constraint checks a constraint added to an existing table (column is set
// for constraints written on ADD COLUMN).
func (a *analyzer) constraint(st *fileState, s *statement, table relName, c pgparse.Constraint, column string) {
	switch c.Contype {
	case "CONSTR_FOREIGN":
		if c.SkipValidation {
			return
		}
		fd := newFinding(RuleForeignKeyNotValid)
		ref := ""
		if c.Pktable != nil {
			ref = a.rv(st, *c.Pktable).String()
			fd.Lock = strings.Replace(lockShareRowExcl, "both tables", table.String()+" and "+ref, 1)
		}
		if column != "" {
			// ADD COLUMN locks the altered table ACCESS EXCLUSIVE
			fd.Lock = "ACCESS EXCLUSIVE on " + table.String() + " (ADD COLUMN: every read and write of it waits) and SHARE ROW EXCLUSIVE on " + ref + " (its writes wait), held through the validation scan"
			fd.Detail = "REFERENCES written on ADD COLUMN " + column + ": the key is added and validated in the same statement"
			fd.Safe = "ADD COLUMN without REFERENCES, then ADD CONSTRAINT ... FOREIGN KEY (" + column + ") REFERENCES " + ref + " NOT VALID, then VALIDATE CONSTRAINT in a later migration"
		}
		a.add(st, s, fd)
	case "CONSTR_CHECK":
		if !c.SkipValidation {
			fd := newFinding(RuleCheckNotValid)
			fd.on(table)
			if column != "" {
				// a column constraint cannot be NOT VALID, and PostgreSQL
				// verifies it on every existing row like a table constraint
				fd.Detail = "CHECK written on ADD COLUMN " + column + ": PostgreSQL verifies it on every existing row in the same statement"
				fd.Safe = "ADD COLUMN without the CHECK, then ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT in a later migration"
			}
			a.add(st, s, fd)
		}
	case "CONSTR_UNIQUE", "CONSTR_EXCLUSION":
		if c.Indexname == "" {
			fd := newFinding(RuleAddUniqueConstraint)
			fd.on(table)
			if c.Contype == "CONSTR_EXCLUSION" {
				fd.Detail = "an exclusion constraint builds its index the same way"
			}
			a.add(st, s, fd)
		}
	case "CONSTR_PRIMARY":
		if c.Indexname == "" {
			fd := newFinding(RuleAddPrimaryKey)
			fd.on(table)
			a.add(st, s, fd)
			return
		}
		// USING INDEX: PostgreSQL runs SET NOT NULL on each key column
		// not already NOT NULL, scanning the table unless a validated
		// check proves it (ALTER TABLE, "ADD table_constraint_using_index")
		if ix := a.schema.indexes[relName{table.schema, c.Indexname}]; ix != nil && ix.table == table {
			for _, col := range ix.cols {
				a.setNotNull(st, s, table, col, "PRIMARY KEY USING INDEX "+c.Indexname)
			}
		}
	}
}

func mustRule(id string) Rule {
	r, _ := ruleByID(id)
	return r
}

// notNullColumns are the columns a CHECK expression proves NOT NULL, as
// PostgreSQL 12+ reads it to skip SET NOT NULL's scan: "col IS NOT NULL",
// "NOT (col IS NULL)", and each such term of an AND. Anything else proves
// nothing: a CHECK passes when its expression is NULL, so "col > 0" lets
// NULLs in, and an OR proves no single column.
func notNullColumns(expr pgparse.Node) []string {
	column := func(n pgparse.Node) string {
		var cr pgparse.ColumnRef
		if n.Type != "ColumnRef" || !n.Into(&cr) || len(cr.Fields) == 0 || cr.Fields[len(cr.Fields)-1].Type != "String" {
			return ""
		}
		return pgparse.LastString(cr.Fields)
	}
	var nt pgparse.NullTest
	var b struct {
		Boolop string         `json:"boolop"`
		Args   []pgparse.Node `json:"args"`
	}
	switch {
	case expr.Type == "NullTest" && expr.Into(&nt) && nt.Nulltesttype == "IS_NOT_NULL":
		if col := column(nt.Arg); col != "" {
			return []string{col}
		}
	case expr.Type == "BoolExpr" && expr.Into(&b) && b.Boolop == "AND_EXPR":
		var out []string
		for _, arg := range b.Args {
			out = append(out, notNullColumns(arg)...)
		}
		return out
	case expr.Type == "BoolExpr" && expr.Into(&b) && b.Boolop == "NOT_EXPR" && len(b.Args) == 1:
		if b.Args[0].Type == "NullTest" && b.Args[0].Into(&nt) && nt.Nulltesttype == "IS_NULL" {
			if col := column(nt.Arg); col != "" {
				return []string{col}
			}
		}
	}
	return nil
}

// checkName is the name PostgreSQL gives a CHECK constraint without one:
// table_col_check when the expression names one column, table_check
// otherwise, numbered from 1 while the name is taken.
func checkName(t *tableState, table relName, expr pgparse.Node) string {
	cols := map[string]bool{}
	for _, c := range expr.ColumnRefNames() {
		cols[c] = true
	}
	base := table.name
	if len(cols) == 1 {
		for c := range cols {
			base += "_" + c
		}
	}
	base += "_check"
	name := base
	for i := 1; t.checks[name] != nil; i++ {
		name = base + itoa(i)
	}
	return name
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

// volatility classifies a default expression and names the deciding
// function; functions the migrations create count as they declare.
func (a *analyzer) volatility(expr pgparse.Node) (int, string) {
	worst, name := volSafe, ""
	for _, fn := range expr.FuncNames() {
		fn = strings.ToLower(fn)
		switch declared := a.schema.funcs[fn]; {
		case declared == "volatile":
			return volVolatile, fn
		case declared != "":
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
