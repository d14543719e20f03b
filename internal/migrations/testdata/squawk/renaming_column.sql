-- squawk rule renaming-column (crates/squawk_linter/src/rules/renaming_column.rs)
-- pmguard searches the deployed code for the old name: none here, so a warning.

-- case: err
-- squawk: flags
-- expect: ok
-- rules: lock-timeout rename-column

ALTER TABLE "table_name" RENAME COLUMN "column_name" TO "new_column_name";
