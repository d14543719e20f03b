-- squawk's variant tests (crates/squawk_linter/src/rules/variant_tests.rs): the same
-- rules on foreign tables, views, domains and routines. squawk asserts them per rule:
-- the rule named in each case's name.

-- case: renaming_column_foreign_table_view_matview
-- squawk: flags
-- expect: ok
-- rules: lock-timeout rename-column

ALTER FOREIGN TABLE ft RENAME COLUMN a TO b; ALTER VIEW v RENAME COLUMN a TO b; ALTER MATERIALIZED VIEW mv RENAME COLUMN a TO b;

-- case: renaming_column_ok_view_rename
-- squawk: ok
-- expect: ok
-- rules: lock-timeout rename-table
-- differs: squawk's renaming-object flags it, not renaming-column; pmguard reports a renamed view as it does a table (a warning when the deployed code does not use it)

ALTER VIEW v RENAME TO v2;

-- case: ban_drop_not_null_domain_foreign_table
-- squawk: flags
-- expect: ok
-- rules: drop-not-null lock-timeout

ALTER DOMAIN d DROP NOT NULL; ALTER FOREIGN TABLE ft ALTER COLUMN c DROP NOT NULL;

-- case: ban_drop_default_domain_view_foreign_table
-- squawk: flags
-- expect: ok
-- rules: drop-default lock-timeout

ALTER DOMAIN d DROP DEFAULT; ALTER VIEW v ALTER COLUMN c DROP DEFAULT; ALTER FOREIGN TABLE ft ALTER COLUMN c DROP DEFAULT;

-- case: ban_drop_table_foreign_table
-- squawk: flags
-- expect: ok
-- rules: drop-table lock-timeout

DROP FOREIGN TABLE IF EXISTS ft;

-- case: ban_alter_generated_expression
-- squawk: flags
-- postgres: 17
-- expect: blocked
-- rules: lock-timeout statement-timeout table-rewrite

ALTER TABLE t ALTER COLUMN c SET EXPRESSION AS (id + 1);

-- case: ban_alter_generated_expression_drop_ok
-- squawk: ok
-- postgres: 17
-- expect: ok
-- rules: lock-timeout

ALTER TABLE t ALTER COLUMN c DROP EXPRESSION;
