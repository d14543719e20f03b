package migrations

import (
	"fmt"
	"sort"
	"strings"
)

// Severity says whether a finding blocks the deploy.
type Severity string

const (
	Blocking Severity = "blocking"
	Warning  Severity = "warning"
)

// Rule is one thing that makes a migration unsafe to run while the previous
// release still serves traffic.
type Rule struct {
	ID string
	// Reason says in one line why it breaks a zero-downtime deploy.
	Reason string
	// Safe is the safe alternative.
	Safe string
	// Steps is the expand -> deploy -> migrate data -> deploy -> contract
	// sequence, for rules whose fix spans releases.
	Steps []string
	// Severity is the default severity.
	Severity Severity
	// UsesCode: the finding blocks only when the code deployed at base uses
	// the dropped or renamed name; otherwise it is a warning.
	UsesCode bool
	// Lock is the lock the statement takes (PostgreSQL's "Explicit Locking"
	// table) and what it blocks; empty for rules about files or queries.
	Lock string
}

// Rule ids.
const (
	RuleDropColumn           = "drop-column"
	RuleDropTable            = "drop-table"
	RuleRenameColumn         = "rename-column"
	RuleRenameTable          = "rename-table"
	RuleRenameObject         = "rename-object"
	RuleIdentityAlways       = "identity-always"
	RuleChangeColumnType     = "change-column-type"
	RuleAddNotNullColumn     = "add-not-null-column"
	RuleSetNotNull           = "set-not-null"
	RuleAddUniqueConstraint  = "add-unique-constraint"
	RuleAddPrimaryKey        = "add-primary-key"
	RuleIndexConcurrently    = "index-without-concurrently"
	RuleDropIndexConcurrent  = "drop-index-without-concurrently"
	RuleReindexConcurrently  = "reindex-without-concurrently"
	RuleForeignKeyNotValid   = "foreign-key-without-not-valid"
	RuleCheckNotValid        = "check-without-not-valid"
	RuleDropDefault          = "drop-default"
	RuleTruncate             = "truncate"
	RuleConcurrentlyInTx     = "concurrently-in-transaction"
	RuleVolatileDefault      = "volatile-default"
	RuleEnumValueInTx        = "enum-value-in-transaction"
	RuleRenameEnumValue      = "rename-enum-value"
	RuleTableRewrite         = "table-rewrite"
	RuleLockTimeout          = "lock-timeout"
	RuleDropNotNull          = "drop-not-null"
	RuleDropSchema           = "drop-schema"
	RuleEditedMigration      = "edited-migration"
	RuleOutOfOrder           = "out-of-order"
	RuleMigrationFails       = "migration-fails"
	RuleCompatQueryFails     = "compat-query-fails"
	RuleCompatQueryFailsBase = "compat-query-fails-at-base"
	RuleValidateSameTx       = "validate-in-same-transaction"
	RuleStatementTimeout     = "statement-timeout"
	RuleTxNesting            = "transaction-nesting"
	RuleUncommittedTx        = "uncommitted-transaction"
	RuleDomainConstraint     = "domain-constraint"
	RuleDetachPartition      = "detach-partition-without-concurrently"
	RuleJSONColumn           = "json-column"
	RuleRenameSchema         = "rename-schema"
	RuleSetSchema            = "set-schema"
	RuleBodyNotChecked       = "body-not-checked"
	RuleRefreshMatView       = "refresh-materialized-view"
	RuleDropUniqueConstraint = "drop-unique-constraint"
	RuleAttachPartition      = "attach-partition"
	RuleBackfillInTx         = "backfill-in-transaction"
	RuleSyntaxTooNew         = "syntax-needs-newer-postgres"
	RuleSyntaxUnknown        = "syntax-unknown-to-parser"
)

// The locks, as PostgreSQL's documentation names them, with what they block.
const (
	lockAccessExclusive = "ACCESS EXCLUSIVE (blocks every read and write of the table)"
	lockShare           = "SHARE (blocks every write of the table)"
	lockShareRowExcl    = "SHARE ROW EXCLUSIVE (blocks every write of both tables)"
	lockShareUpdateExcl = "SHARE UPDATE EXCLUSIVE (reads and writes go on)"
)

var ruleLocks = map[string]string{
	RuleDropColumn:           lockAccessExclusive,
	RuleDropTable:            lockAccessExclusive,
	RuleRenameColumn:         lockAccessExclusive,
	RuleRenameTable:          lockAccessExclusive,
	RuleChangeColumnType:     lockAccessExclusive,
	RuleAddNotNullColumn:     lockAccessExclusive,
	RuleSetNotNull:           lockAccessExclusive,
	RuleAddUniqueConstraint:  lockAccessExclusive,
	RuleAddPrimaryKey:        lockAccessExclusive,
	RuleIndexConcurrently:    lockShare,
	RuleDropIndexConcurrent:  lockAccessExclusive,
	RuleReindexConcurrently:  "SHARE on the table and ACCESS EXCLUSIVE on the index (on each of its indexes for REINDEX TABLE): writes wait, and so does every query planned on the table, as the planner opens all of its indexes, not only the queries that would use this one",
	RuleForeignKeyNotValid:   lockShareRowExcl,
	RuleCheckNotValid:        lockAccessExclusive,
	RuleDropDefault:          lockAccessExclusive + ", briefly",
	RuleIdentityAlways:       lockAccessExclusive + ", briefly",
	RuleTruncate:             lockAccessExclusive,
	RuleVolatileDefault:      lockAccessExclusive,
	RuleRenameEnumValue:      lockEnumLabels,
	RuleTableRewrite:         lockAccessExclusive,
	RuleLockTimeout:          "the statement's lock, requested behind every open transaction on the table",
	RuleStatementTimeout:     "the statement's lock, held for as long as it runs",
	RuleDropNotNull:          lockAccessExclusive + ", briefly",
	RuleDropSchema:           lockAccessExclusive + " on every object in it",
	RuleValidateSameTx:       "the ADD CONSTRAINT's lock (ACCESS EXCLUSIVE for CHECK, SHARE ROW EXCLUSIVE for FOREIGN KEY), held through the validation scan until COMMIT",
	RuleDomainConstraint:     "SHARE on every table with a column of the domain, while each is scanned",
	RuleDetachPartition:      lockAccessExclusive + " on the parent and the partition",
	RuleJSONColumn:           lockAccessExclusive + ", briefly",
	RuleRenameSchema:         "ACCESS EXCLUSIVE on the schema",
	RuleSetSchema:            lockAccessExclusive,
	RuleRefreshMatView:       "ACCESS EXCLUSIVE for the whole refresh (every read of the view waits)",
	RuleDropUniqueConstraint: lockAccessExclusive + ", briefly",
	RuleBackfillInTx:         "row locks on every updated row, plus the lock the earlier statement took (the detail names it), all held until COMMIT",
}

func expandContract(expand, deploy1, migrate, deploy2, contract string) []string {
	return []string{
		"expand: " + expand,
		"deploy: " + deploy1,
		"migrate data: " + migrate,
		"deploy: " + deploy2,
		"contract: " + contract,
	}
}

// Rules returns every rule, in the order the documentation lists them.
func Rules() []Rule {
	rules := ruleList()
	for i := range rules {
		rules[i].Lock = ruleLocks[rules[i].ID]
	}
	return rules
}

func ruleList() []Rule {
	return []Rule{
		{ID: RuleDropColumn, UsesCode: true, Severity: Warning,
			Reason: "the release still running reads or writes the column; its queries fail as soon as the column is gone",
			Safe:   "stop using the column first, drop it in a later release",
			Steps: expandContract("nothing to add",
				"release code that no longer reads or writes the column (for ORMs, also mark it ignored, e.g. Rails ignored_columns, Django deprecate_field)",
				"copy anything still needed elsewhere",
				"make sure no running release uses it (this check passes with base set to that release)",
				"DROP COLUMN in a migration of its own")},
		{ID: RuleDropTable, UsesCode: true, Severity: Warning,
			Reason: "the release still running queries the table; its queries fail as soon as the table is gone",
			Safe:   "stop using the table first, drop it in a later release",
			Steps: expandContract("nothing to add",
				"release code that no longer uses the table",
				"move any data still needed",
				"make sure no running release uses it",
				"DROP TABLE in a migration of its own")},
		{ID: RuleRenameColumn, UsesCode: true, Severity: Warning,
			Reason: "the release still running uses the old name; its queries fail the moment the rename commits",
			Safe:   "add the new column next to the old one and move over in steps",
			Steps: expandContract("ADD COLUMN with the new name (nullable), and a trigger (or the code) that writes both",
				"release code that writes both columns and still reads the old one",
				"backfill the new column from the old one in batches",
				"release code that reads and writes only the new column",
				"drop the old column (and the trigger)")},
		{ID: RuleRenameTable, UsesCode: true, Severity: Warning,
			Reason: "the release still running uses the old table name; its queries fail the moment the rename commits",
			Safe:   "rename and leave a view with the old name, or copy to a new table in steps",
			Steps: expandContract("ALTER TABLE old RENAME TO new; CREATE VIEW old AS SELECT * FROM new (a simple view stays writable) in one transaction",
				"release code that uses only the new name",
				"nothing to move: it is the same table",
				"make sure no running release uses the old name",
				"DROP VIEW old")},
		{ID: RuleRenameObject, UsesCode: true, Severity: Warning,
			Reason: "the release still running calls the function or procedure, or casts to the type or domain, by its old name; those queries fail the moment the rename commits",
			Safe:   "keep the old name working until no release uses it: a function under the new name that the old one calls, or release code that no longer names a type before renaming it"},
		{ID: RuleIdentityAlways, Severity: Warning,
			Reason: "a GENERATED ALWAYS identity refuses a value given for the column: the running release's INSERTs that set it (copies, imports, an ORM that assigns ids) and its UPDATEs of it fail",
			Safe:   "GENERATED BY DEFAULT AS IDENTITY, which takes a given value; switch to ALWAYS once no running release writes the column"},
		{ID: RuleChangeColumnType, Severity: Blocking,
			Reason: "rewrites the table and its indexes under an ACCESS EXCLUSIVE lock (reads and writes wait), and the running release may still send or expect the old type",
			Safe:   "add a column of the new type and move over in steps",
			Steps: expandContract("ADD COLUMN of the new type (nullable), written together with the old one by a trigger or the code",
				"release code that writes both columns",
				"backfill the new column in batches",
				"release code that reads and writes only the new column",
				"drop the old column (then rename the new one in its own expand/contract if the name matters)")},
		{ID: RuleAddNotNullColumn, Severity: Blocking,
			Reason: "fails on a table that has rows, and once it succeeds every INSERT of the running release (which does not know the column) fails",
			Safe:   "add the column nullable or with a constant DEFAULT, then enforce NOT NULL in steps",
			Steps: expandContract("ADD COLUMN nullable (or with a constant DEFAULT, which is instant since PostgreSQL 11)",
				"release code that writes the column on every INSERT and UPDATE",
				"backfill existing rows in batches",
				"ADD CONSTRAINT ... CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT",
				"SET NOT NULL (PostgreSQL 12+ uses the validated check and skips the scan), then drop the check")},
		{ID: RuleSetNotNull, Severity: Blocking,
			Reason: "scans the whole table under an ACCESS EXCLUSIVE lock, and INSERTs of the running release that leave the column empty start failing",
			Safe:   "validate a NOT VALID check constraint first; SET NOT NULL then needs no scan",
			Steps: expandContract("ADD CONSTRAINT col_not_null CHECK (col IS NOT NULL) NOT VALID",
				"release code that always writes the column",
				"backfill NULLs in batches, then VALIDATE CONSTRAINT col_not_null (takes no exclusive lock)",
				"nothing else to release",
				"SET NOT NULL (PostgreSQL 12+ skips the scan thanks to the validated check), then DROP CONSTRAINT col_not_null")},
		{ID: RuleAddUniqueConstraint, Severity: Blocking,
			Reason: "builds a unique index while holding an ACCESS EXCLUSIVE lock: reads and writes wait for the whole build",
			Safe:   "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX"},
		{ID: RuleAddPrimaryKey, Severity: Blocking,
			Reason: "builds the primary key index (and checks NOT NULL) while holding an ACCESS EXCLUSIVE lock",
			Safe:   "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX (for a column not yet NOT NULL, first a CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT and SET NOT NULL, or the key scans the table under ACCESS EXCLUSIVE)"},
		{ID: RuleIndexConcurrently, Severity: Blocking,
			Reason: "CREATE INDEX without CONCURRENTLY blocks every write to the table for the whole build",
			Safe:   "CREATE INDEX CONCURRENTLY, outside a transaction (if it fails it leaves an INVALID index: drop it and retry)"},
		{ID: RuleDropIndexConcurrent, Severity: Blocking,
			Reason: "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table",
			Safe:   "DROP INDEX CONCURRENTLY, outside a transaction"},
		{ID: RuleReindexConcurrently, Severity: Blocking,
			Reason: "REINDEX without CONCURRENTLY blocks writes, and every query the planner plans on the table (it opens all of the table's indexes), for the whole rebuild",
			Safe:   "REINDEX ... CONCURRENTLY (PostgreSQL 12+), outside a transaction"},
		{ID: RuleForeignKeyNotValid, Severity: Blocking,
			Reason: "checks every existing row while blocking writes to both tables",
			Safe:   "ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID, then VALIDATE CONSTRAINT in a later migration (it does not block writes)"},
		{ID: RuleCheckNotValid, Severity: Blocking,
			Reason: "checks every existing row while holding an ACCESS EXCLUSIVE lock",
			Safe:   "ADD CONSTRAINT ... CHECK (...) NOT VALID, then VALIDATE CONSTRAINT in a later migration"},
		{ID: RuleDropDefault, Severity: Warning,
			Reason: "INSERTs of the running release that leave the column out get NULL instead of the default (and fail if the column is NOT NULL)",
			Safe:   "drop the default only once every running release writes the column",
			Steps: expandContract("nothing to add",
				"release code that always writes the column",
				"nothing to move",
				"make sure no running release relies on the default",
				"DROP DEFAULT")},
		{ID: RuleTruncate, Severity: Blocking,
			Reason: "takes an ACCESS EXCLUSIVE lock and deletes every row the running release still reads",
			Safe:   "delete in batches outside the migration, or stop using the table first"},
		{ID: RuleConcurrentlyInTx, Severity: Blocking,
			Reason: "CONCURRENTLY cannot run inside a transaction block: the migration fails",
			Safe:   "run the statement outside any transaction"},
		{ID: RuleVolatileDefault, Severity: Blocking,
			Reason: "a volatile default (or serial, identity or a default before PostgreSQL 11) fills every existing row: the table is rewritten under an ACCESS EXCLUSIVE lock",
			Safe:   "add the column without a default, SET DEFAULT for new rows, backfill existing rows in batches",
			Steps: expandContract("ADD COLUMN without default, then ALTER COLUMN ... SET DEFAULT (only new rows get it, no rewrite)",
				"release code that uses the column",
				"backfill existing rows in batches",
				"nothing else to release",
				"add NOT NULL if needed (see set-not-null)")},
		{ID: RuleEnumValueInTx, Severity: Blocking,
			Reason: "ALTER TYPE ... ADD VALUE cannot run inside a transaction block before PostgreSQL 12, and from 12 the new value cannot be used in the transaction that added it: the migration fails",
			Safe:   "run ADD VALUE in its own migration (outside a transaction before PostgreSQL 12), and use the new value only in a later migration or after a COMMIT"},
		{ID: RuleRenameEnumValue, Severity: Warning,
			Reason: "the running release still writes and compares the old label",
			Safe:   "add the new label, release code that uses it, migrate rows, then stop using the old one (labels cannot be dropped)"},
		{ID: RuleTableRewrite, Severity: Blocking,
			Reason: "rewrites the whole table under an ACCESS EXCLUSIVE lock: reads and writes wait",
			Safe:   "use pg_repack or a copy-and-swap done in steps; never in a deploy migration"},
		{ID: RuleLockTimeout, Severity: Warning,
			Reason: "a lock request on an object the running release uses waits behind every long transaction on it, and the release's queries that need a conflicting lock queue behind the request",
			Safe:   "SET lock_timeout = '5s' (and retry the migration) before statements that lock existing tables, types or schemas"},
		{ID: RuleDropNotNull, Severity: Warning,
			Reason: "the running release may read NULLs it does not expect",
			Safe:   "release code that copes with NULL first"},
		{ID: RuleDropSchema, Severity: Blocking,
			Reason: "drops every object in it at once, with everything the running release uses",
			Safe:   "drop the objects one at a time, each after no release uses it"},
		{ID: RuleEditedMigration, Severity: Warning,
			Reason: "a migration that has already run is never run again: databases migrated before keep the old version",
			Safe:   "leave applied migrations as they are and add a new migration with the change"},
		{ID: RuleOutOfOrder, Severity: Warning,
			Reason: "its version is older than a migration already deployed: some tools skip it or refuse to run",
			Safe:   "give it a version newer than every deployed migration"},
		{ID: RuleMigrationFails, Severity: Blocking,
			Reason: "PostgreSQL rejected the statement when the migrations were applied to a copy of the deployed schema",
			Safe:   "fix the statement; the message is PostgreSQL's"},
		{ID: RuleCompatQueryFails, Severity: Blocking,
			Reason: "a query of the running release fails on the migrated schema",
			Safe:   "keep what the query needs until no running release sends it (expand -> deploy -> migrate data -> deploy -> contract)"},
		{ID: RuleCompatQueryFailsBase, Severity: Warning,
			Reason: "a query from compat_queries already fails on the deployed schema, so it tells nothing about this change",
			Safe:   "fix or remove the query in compat_queries"},
		{ID: RuleValidateSameTx, Severity: Blocking,
			Reason: "VALIDATE CONSTRAINT runs in the transaction that added the constraint NOT VALID: the ADD CONSTRAINT's lock is held through the whole validation scan, so NOT VALID buys nothing",
			Safe:   "commit after ADD CONSTRAINT ... NOT VALID and run VALIDATE CONSTRAINT in a migration of its own (it then takes only SHARE UPDATE EXCLUSIVE; reads and writes go on)"},
		{ID: RuleStatementTimeout, Severity: Warning,
			Reason: "a statement that holds a lock on a table the running release uses has no time limit: if it runs long (a scan, a rewrite, a wait), every query of the release queues behind it",
			Safe:   "SET statement_timeout = '30s' (or what the statement needs) at the top of the migration, and retry when it trips; not for CREATE INDEX CONCURRENTLY, which needs no limit"},
		{ID: RuleTxNesting, Severity: Blocking,
			Reason: "BEGIN inside a transaction already open (the migration tool's own, or an earlier BEGIN): PostgreSQL only warns, and the COMMIT that follows commits the tool's transaction early, so a later failure leaves the migration half applied and unrecorded",
			Safe:   "leave transactions to the migration tool and remove BEGIN/COMMIT from the file, or turn the tool's transaction off for this file"},
		{ID: RuleUncommittedTx, Severity: Blocking,
			Reason: "the file opens a transaction it never commits: the tool's connection holds its locks until it is closed, or the work is rolled back when it is",
			Safe:   "end every BEGIN with COMMIT in the same file"},
		{ID: RuleDomainConstraint, Severity: Blocking,
			Reason: "ALTER DOMAIN ... ADD CONSTRAINT checks every column of every table that uses the domain, under a lock that blocks writes; a domain's CHECK is also hard to change later without that scan",
			Safe:   "put the CHECK on the table columns: ADD CONSTRAINT ... NOT VALID, then VALIDATE CONSTRAINT in a later migration, which lets writes through; ALTER DOMAIN ... ADD CONSTRAINT ... NOT VALID defers the scan, but the domain's VALIDATE CONSTRAINT still holds SHARE on every table using it while it scans (writes wait), so run that in a quiet window"},
		{ID: RuleDetachPartition, Severity: Blocking,
			Reason: "DETACH PARTITION without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the partitioned table: every query of the running release on it waits",
			Safe:   "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY (PostgreSQL 14+), outside a transaction"},
		{ID: RuleJSONColumn, Severity: Blocking,
			Reason: "json has no equality operator: the running release's SELECT DISTINCT, UNION and GROUP BY over the table's rows (SELECT DISTINCT * ...) fail once the column exists",
			Safe:   "use jsonb"},
		{ID: RuleRenameSchema, UsesCode: true, Severity: Warning,
			Reason: "the release still running names objects with the old schema; its queries fail the moment the rename commits",
			Safe:   "create the new schema and move the objects in steps, or leave the old name in search_path users' code until no release uses it"},
		{ID: RuleSetSchema, UsesCode: true, Severity: Blocking,
			Reason: "the release still running finds the object by its old schema (an unqualified name resolves through search_path): every one of its queries that names it fails the moment the move commits, including those built in ways the code search cannot see",
			Safe:   "leave the object where it is, or move it and keep the old name working until no release uses it",
			Steps: expandContract("ALTER TABLE name SET SCHEMA new; CREATE VIEW old.name AS SELECT * FROM new.name (a simple view stays writable) in one transaction, or add the new schema to the running release's search_path first",
				"release code that names new.name (or has the new schema in its search_path)",
				"nothing to move: it is the same table",
				"make sure no running release uses the old name",
				"DROP VIEW old.name")},
		{ID: RuleBodyNotChecked, Severity: Warning,
			Reason: "pmguard does not read procedural code: what this DO block, or the procedure this CALL runs, does during the migration to the objects the running release uses is not checked",
			Safe:   "write the DDL as plain statements of the migration (a DO block that is only SQL statements between BEGIN and END, with at most EXCEPTION handlers that do NULL, is checked like them); otherwise check the body by hand and accept it with -- pmguard:ignore body-not-checked: <reason>"},
		{ID: RuleRefreshMatView, Severity: Warning,
			Reason: "REFRESH MATERIALIZED VIEW without CONCURRENTLY holds ACCESS EXCLUSIVE on the view while it runs the view's query again: every read of the view by the running release waits for the whole refresh",
			Safe:   "REFRESH MATERIALIZED VIEW CONCURRENTLY, which lets reads go on (it needs a unique index on the view over plain columns, without WHERE, and a view already populated), or refresh outside the deploy"},
		{ID: RuleDropUniqueConstraint, UsesCode: true, Severity: Warning,
			Reason: "the release still running may upsert with INSERT ... ON CONFLICT on the key's columns: once the primary key or unique constraint is gone those INSERTs fail (there is no unique or exclusion constraint matching the ON CONFLICT specification), and duplicates can get in",
			Safe:   "keep a unique index on the same columns while any running release upserts on them (CREATE UNIQUE INDEX CONCURRENTLY first; ON CONFLICT accepts an index as well as a constraint), or release code without the upsert first",
			Steps: expandContract("CREATE UNIQUE INDEX CONCURRENTLY on the columns any running release's ON CONFLICT names (if the key is to change)",
				"release code whose ON CONFLICT names the new key's columns, or no longer upserts",
				"nothing to move",
				"make sure no running release upserts on the old key",
				"DROP CONSTRAINT")},
		{ID: RuleAttachPartition, Severity: Warning,
			Reason: "ATTACH PARTITION takes ACCESS EXCLUSIVE on the table it attaches (and on the DEFAULT partition, if there is one) and scans it to prove every row fits the partition bound, unless a validated CHECK constraint implies the bound: the running release's reads and writes of that table wait for the scan",
			Safe:   "before attaching, ADD CONSTRAINT ... CHECK (<the bound>) NOT VALID and VALIDATE CONSTRAINT it in a migration of its own (it lets reads and writes through); ATTACH PARTITION then skips the scan, and the check can be dropped after"},
		{ID: RuleBackfillInTx, Severity: Blocking,
			Reason: "the UPDATE runs in the same transaction as a statement that locked an existing table against writes (ALTER TABLE, CREATE INDEX, a trigger, a foreign key, ...): that lock and every updated row stay locked until the backfill commits",
			Safe:   "commit the schema change first, then backfill in batches in a separate migration or job (each batch its own transaction)"},
		{ID: RuleSyntaxTooNew, Severity: Blocking,
			Reason: "the production server's PostgreSQL version does not have this syntax: the migration fails at deploy time",
			Safe:   "write it the way the target version supports (see the detail), or raise postgres_version once production runs the newer server"},
		{ID: RuleSyntaxUnknown, Severity: Blocking,
			Reason: "PostgreSQL 17's parser (the one pmguard uses) does not know this statement: it is newer syntax, or a mistake, and none of the rules could check it",
			Safe:   "check the statement by hand against the target server's documentation and accept it with -- pmguard:ignore syntax-unknown-to-parser: <reason>"},
	}
}

// ruleByID returns the rule with id.
func ruleByID(id string) (Rule, bool) {
	for _, r := range Rules() {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// ruleIDs lists every rule id, sorted, for error messages.
func ruleIDs() string {
	var ids []string
	for _, r := range Rules() {
		ids = append(ids, r.ID)
	}
	sort.Strings(ids)
	return strings.Join(ids, ", ")
}

// Finding is one rule that one statement (or file, or query) breaks.
type Finding struct {
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Blocks: the finding fails the check (blocking and not allowed by an
	// override).
	Blocks    bool   `json:"blocks"`
	File      string `json:"file"`
	Line      int    `json:"line"`
	Statement string `json:"statement,omitempty"`
	Reason    string `json:"reason"`
	Detail    string `json:"detail,omitempty"`
	Safe      string `json:"safe"`
	// Lock is the lock the statement takes and on what.
	Lock  string   `json:"lock,omitempty"`
	Steps []string `json:"steps,omitempty"`
	// Table and Column name what the deployed code was searched for.
	Table   string `json:"table,omitempty"`
	Column  string `json:"column,omitempty"`
	NewName string `json:"new_name,omitempty"`
	// Hits are the uses found in the code at base.
	Hits     []Hit `json:"hits,omitempty"`
	MoreHits int   `json:"more_hits,omitempty"`
	Searched bool  `json:"searched,omitempty"`
	// Ignored are mentions inside ORM declarations that tell the deployed
	// code to leave the column alone (Rails ignored_columns, ...): not uses.
	Ignored []Hit `json:"ignored_by_orm,omitempty"`
	// Allowed is the reason of the pmguard:allow override that accepted it.
	Allowed string `json:"allowed,omitempty"`
	// SuppressedBy names the directive that accepted it.
	SuppressedBy string `json:"suppressed_by,omitempty"`
	// PostgresError is PostgreSQL's message in real-database mode.
	PostgresError string `json:"postgres_error,omitempty"`

	stmt *statement // the statement it is about, for its overrides
	rel  relName    // the table it is about, for the lock's text
	// key is the dropped primary key or unique constraint, whose uses are
	// the deployed code's INSERT ... ON CONFLICT on its columns
	key *droppedKey
	// bridged: the old name keeps working (a view of it is created in the
	// same transaction), so the deployed code's uses are listed but do not
	// make the finding block
	bridged bool
}

// on says which table the finding is about: Table is its name as the
// deployed code is searched for it, the lock names it with its schema
// outside public.
func (f *Finding) on(table relName) { f.Table, f.rel = table.name, table }

// Where formats the finding's location as file:line.
func (f Finding) Where() string {
	if f.Line > 0 {
		return fmt.Sprintf("%s:%d", f.File, f.Line)
	}
	return f.File
}

// newFinding fills a finding from its rule.
func newFinding(id string) Finding {
	r, _ := ruleByID(id)
	return Finding{Rule: id, Severity: r.Severity, Reason: r.Reason, Safe: r.Safe, Steps: r.Steps, Lock: r.Lock}
}

// columnFinding is newFinding for column col of table.
func columnFinding(id string, table relName, col string) Finding {
	fd := newFinding(id)
	fd.on(table)
	fd.Column = col
	return fd
}
