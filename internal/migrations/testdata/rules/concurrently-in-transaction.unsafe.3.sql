-- file: 000003_users_email.up.sql
-- expect: concurrently-in-transaction
SET lock_timeout = '5s';
CREATE INDEX CONCURRENTLY users_email ON users (email);
