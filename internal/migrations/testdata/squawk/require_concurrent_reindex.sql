-- squawk rule require-concurrent-reindex (crates/squawk_linter/src/rules/require_concurrent_reindex.rs)

-- case: reindex_table_no_concurrently_err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout reindex-without-concurrently statement-timeout

REINDEX TABLE foo;

-- case: reindex_index_no_concurrently_err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout reindex-without-concurrently statement-timeout

REINDEX INDEX foo;

-- case: reindex_schema_no_concurrently_err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout reindex-without-concurrently statement-timeout

REINDEX SCHEMA foo;

-- case: reindex_database_no_concurrently_err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout reindex-without-concurrently statement-timeout

REINDEX DATABASE foo;

-- case: reindex_table_concurrently_ok
-- squawk: ok
-- expect: ok
-- rules:

REINDEX TABLE CONCURRENTLY foo;

-- case: reindex_index_concurrently_ok
-- squawk: ok
-- expect: ok
-- rules:

REINDEX INDEX CONCURRENTLY foo;

-- case: reindex_options_concurrently_ok
-- squawk: ok
-- expect: ok
-- rules:

REINDEX (CONCURRENTLY) TABLE foo;

-- case: reindex_system_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout reindex-without-concurrently statement-timeout
-- differs: REINDEX SYSTEM has no CONCURRENTLY but still blocks every query planned on the catalogs it rebuilds: pmguard warns, never blocks

REINDEX SYSTEM mydb;
