-- expect: statement-timeout syntax-needs-newer-postgres table-rewrite
-- postgres: 16
-- ALTER COLUMN ... SET EXPRESSION is PostgreSQL 17's.
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN full_name SET EXPRESSION AS (first_name || ' ' || last_name);
