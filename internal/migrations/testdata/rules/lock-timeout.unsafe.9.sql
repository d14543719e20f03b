-- expect: lock-timeout
-- SET LOCAL ends with its transaction.
BEGIN;
SET LOCAL lock_timeout = '5s';
COMMIT;
ALTER TABLE users ADD COLUMN x int;
