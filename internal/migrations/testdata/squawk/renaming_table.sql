-- squawk rule renaming-table (crates/squawk_linter/src/rules/renaming_table.rs)
-- pmguard searches the deployed code for the old name: none here, so a warning.

-- case: err
-- squawk: flags
-- expect: ok
-- rules: lock-timeout rename-table

ALTER TABLE "table_name" RENAME TO "new_table_name";
