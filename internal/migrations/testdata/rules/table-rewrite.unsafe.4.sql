-- expect: statement-timeout table-rewrite
-- postgres: 17
-- SET EXPRESSION computes a stored generated column again for every row,
-- under ACCESS EXCLUSIVE.
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN full_name SET EXPRESSION AS (first_name || ' ' || last_name);
