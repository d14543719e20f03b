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
}

// Rule ids.
const (
	RuleDropColumn           = "drop-column"
	RuleDropTable            = "drop-table"
	RuleRenameColumn         = "rename-column"
	RuleRenameTable          = "rename-table"
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
)

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
	return []Rule{
		{ID: RuleDropColumn, UsesCode: true, Severity: Warning,
			Reason: "the release still running reads or writes the column; its queries fail as soon as the column is gone",
			Safe:   "stop using the column first, drop it in a later release",
			Steps: expandContract("nothing to add",
				"release code that no longer reads or writes the column (for ORMs, also mark it ignored, e.g. Rails ignored_columns)",
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
			Safe:   "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... PRIMARY KEY USING INDEX"},
		{ID: RuleIndexConcurrently, Severity: Blocking,
			Reason: "CREATE INDEX without CONCURRENTLY blocks every write to the table for the whole build",
			Safe:   "CREATE INDEX CONCURRENTLY, outside a transaction (if it fails it leaves an INVALID index: drop it and retry)"},
		{ID: RuleDropIndexConcurrent, Severity: Blocking,
			Reason: "DROP INDEX without CONCURRENTLY takes an ACCESS EXCLUSIVE lock on the table",
			Safe:   "DROP INDEX CONCURRENTLY, outside a transaction"},
		{ID: RuleReindexConcurrently, Severity: Blocking,
			Reason: "REINDEX without CONCURRENTLY blocks writes (and reads using the index) for the whole rebuild",
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
			Reason: "before PostgreSQL 12, ALTER TYPE ... ADD VALUE cannot run inside a transaction block: the migration fails",
			Safe:   "run ADD VALUE in its own migration outside a transaction"},
		{ID: RuleRenameEnumValue, Severity: Warning,
			Reason: "the running release still writes and compares the old label",
			Safe:   "add the new label, release code that uses it, migrate rows, then stop using the old one (labels cannot be dropped)"},
		{ID: RuleTableRewrite, Severity: Blocking,
			Reason: "rewrites the whole table under an ACCESS EXCLUSIVE lock: reads and writes wait",
			Safe:   "use pg_repack or a copy-and-swap done in steps; never in a deploy migration"},
		{ID: RuleLockTimeout, Severity: Warning,
			Reason: "an ACCESS EXCLUSIVE lock request waits behind long queries and every query of the running release queues behind it",
			Safe:   "SET lock_timeout = '5s' (and retry the migration) before statements that lock existing tables"},
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
	Blocks    bool     `json:"blocks"`
	File      string   `json:"file"`
	Line      int      `json:"line"`
	Statement string   `json:"statement,omitempty"`
	Reason    string   `json:"reason"`
	Detail    string   `json:"detail,omitempty"`
	Safe      string   `json:"safe"`
	Steps     []string `json:"steps,omitempty"`
	// Table and Column name what the deployed code was searched for.
	Table   string `json:"table,omitempty"`
	Column  string `json:"column,omitempty"`
	NewName string `json:"new_name,omitempty"`
	// Hits are the uses found in the code at base.
	Hits     []Hit `json:"hits,omitempty"`
	MoreHits int   `json:"more_hits,omitempty"`
	Searched bool  `json:"searched,omitempty"`
	// Allowed is the reason of the pmguard:allow override that accepted it.
	Allowed string `json:"allowed,omitempty"`
	// PostgresError is PostgreSQL's message in real-database mode.
	PostgresError string `json:"postgres_error,omitempty"`

	stmt *statement // the statement it is about, for its overrides
}

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
	return Finding{Rule: id, Severity: r.Severity, Reason: r.Reason, Safe: r.Safe, Steps: r.Steps}
}
