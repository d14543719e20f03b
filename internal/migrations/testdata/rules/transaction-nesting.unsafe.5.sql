-- expect: transaction-nesting concurrently-in-transaction
-- file: 0002_index.up.sql
-- golang-migrate's file is one multi-statement string: after a COMMIT the
-- rest runs in a new implicit transaction, where CONCURRENTLY still fails.
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN x int;
COMMIT;
CREATE INDEX CONCURRENTLY users_x ON users (x);
