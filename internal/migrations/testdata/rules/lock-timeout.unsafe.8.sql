-- expect: lock-timeout
-- Outside a transaction SET LOCAL does nothing (PostgreSQL warns).
SET LOCAL lock_timeout = '5s';
ALTER TABLE users ADD COLUMN x int;
