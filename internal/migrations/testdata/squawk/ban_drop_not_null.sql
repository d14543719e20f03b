-- squawk rule ban-drop-not-null (crates/squawk_linter/src/rules/ban_drop_not_null.rs)

-- case: err
-- squawk: flags
-- expect: ok
-- rules: drop-not-null lock-timeout

ALTER TABLE "bar_tbl" ALTER COLUMN "foo_col" DROP NOT NULL;
