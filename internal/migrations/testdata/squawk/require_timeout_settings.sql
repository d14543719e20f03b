-- squawk rules require-lock-timeout and require-statement-timeout (crates/squawk_linter/src/rules/require_timeout_settings.rs)

-- case: err_missing_both_timeouts
-- squawk: flags
-- expect: ok
-- rules: lock-timeout

ALTER TABLE t ADD COLUMN c BOOLEAN;

-- case: err_missing_lock_timeout
-- squawk: flags
-- expect: ok
-- rules: lock-timeout

SET statement_timeout = '5s';
ALTER TABLE t ADD COLUMN c BOOLEAN;

-- case: err_missing_statement_timeout
-- squawk: flags
-- expect: ok
-- rules:
-- differs: statement_timeout is asked for only before a statement that scans or rewrites a table under a lock that blocks it; ADD COLUMN without a volatile default changes the catalog only, and lock_timeout already bounds its wait

SET lock_timeout = '1s';
ALTER TABLE t ADD COLUMN c BOOLEAN;

-- case: ok_both_timeouts_present
-- squawk: ok
-- expect: ok
-- rules:

SET lock_timeout = '1s';
SET statement_timeout = '5s';
ALTER TABLE t ADD COLUMN c BOOLEAN;

-- case: ok_both_timeouts_present_casing
-- squawk: ok
-- expect: ok
-- rules:

SET Lock_Timeout = '1s';
SET Statement_Timeout = '5s';
ALTER TABLE t ADD COLUMN c BOOLEAN;

-- case: ok_no_ddl_operations
-- squawk: ok
-- expect: ok
-- rules:

SELECT * FROM t;

-- case: err_timeouts_using_schema
-- squawk: flags
-- expect: ok
-- rules: lock-timeout

SET foo.lock_timeout = '1s';
SET foo.statement_timeout = '5s';
ALTER TABLE t ADD COLUMN c BOOLEAN;

-- case: err_timeouts_after_ddl
-- squawk: flags
-- expect: ok
-- rules: lock-timeout

ALTER TABLE t ADD COLUMN c BOOLEAN;
SET lock_timeout = '1s';
SET statement_timeout = '5s';
