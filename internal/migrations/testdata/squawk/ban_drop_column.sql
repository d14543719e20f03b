-- squawk rule ban-drop-column (crates/squawk_linter/src/rules/ban_drop_column.rs)
-- pmguard searches the deployed code for the column: none here, so a warning.

-- case: err
-- squawk: flags
-- expect: ok
-- rules: drop-column lock-timeout

ALTER TABLE "bar_tbl" DROP COLUMN "foo_col" CASCADE;

-- case: other_columns
-- squawk: flags
-- expect: ok
-- rules: drop-column lock-timeout

ALTER TYPE composite DROP ATTRIBUTE a; ALTER FOREIGN TABLE ft DROP COLUMN a;
