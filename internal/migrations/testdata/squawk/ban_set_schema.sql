-- squawk rule ban-set-schema (crates/squawk_linter/src/rules/ban_set_schema.rs)

-- case: err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout set-schema

ALTER TABLE t SET SCHEMA s; ALTER VIEW v SET SCHEMA s; ALTER MATERIALIZED VIEW mv SET SCHEMA s; ALTER FUNCTION f() SET SCHEMA s; ALTER TYPE typ SET SCHEMA s; ALTER SEQUENCE seq SET SCHEMA s; ALTER DOMAIN d SET SCHEMA s;

-- case: ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

ALTER TABLE t OWNER TO app;
