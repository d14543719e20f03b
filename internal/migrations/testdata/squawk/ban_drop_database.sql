-- squawk rule ban-drop-database (crates/squawk_linter/src/rules/ban_drop_database.rs)

-- case: ban_drop_database
-- squawk: flags
-- expect: blocked
-- rules: drop-schema

        DROP DATABASE "table_name";
        DROP DATABASE IF EXISTS "table_name";
        DROP DATABASE IF EXISTS "table_name"
