-- squawk rule ban-drop-table (crates/squawk_linter/src/rules/ban_drop_table.rs)

-- case: err
-- squawk: flags
-- expect: ok
-- rules: drop-table lock-timeout

DROP TABLE "table_name";
DROP TABLE IF EXISTS "table_name";
DROP TABLE IF EXISTS "table_name"
