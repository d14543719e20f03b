-- squawk rule require-concurrent-partition-detach (crates/squawk_linter/src/rules/require_concurrent_partition_detach.rs)
-- DETACH PARTITION ... CONCURRENTLY exists from PostgreSQL 14.

-- case: detach_partition_missing_concurrently_err
-- squawk: flags
-- postgres: 14
-- expect: blocked
-- rules: detach-partition-without-concurrently lock-timeout

ALTER TABLE t DETACH PARTITION p;

-- case: detach_partition_concurrently_ok
-- squawk: ok
-- postgres: 14
-- expect: ok
-- rules: lock-timeout

ALTER TABLE t DETACH PARTITION p CONCURRENTLY;

-- case: detach_partition_finalize_ok
-- squawk: ok
-- postgres: 14
-- expect: ok
-- rules: lock-timeout

ALTER TABLE t DETACH PARTITION p FINALIZE;
