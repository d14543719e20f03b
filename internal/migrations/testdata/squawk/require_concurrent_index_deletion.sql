-- squawk rule require-concurrent-index-deletion (crates/squawk_linter/src/rules/require_concurrent_index_deletion.rs)

-- case: drop_index_missing_concurrently_err
-- squawk: flags
-- expect: blocked
-- rules: drop-index-without-concurrently lock-timeout

  -- instead of
  DROP INDEX IF EXISTS "field_name_idx";

-- case: drop_index_concurrently_ok
-- squawk: ok
-- expect: ok
-- rules:

DROP INDEX CONCURRENTLY IF EXISTS "field_name_idx";

-- case: regression_false_positive_drop_table_ok
-- squawk: ok
-- expect: ok
-- rules: drop-table lock-timeout
-- differs: squawk's ban-drop-table flags it, not this rule; pmguard reports every drop of a table the change did not create (a warning when the deployed code does not use it)

DROP TABLE IF EXISTS some_table;

-- case: regression_false_positive_drop_trigger_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

DROP TRIGGER IF EXISTS trigger on foo_table;
