-- expect: concurrently-in-transaction
-- file: 0011_vacuum.up.sql
SET lock_timeout = '5s';
VACUUM ANALYZE users;
