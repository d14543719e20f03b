-- expect:
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text);
-- base: ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL) NOT VALID;
-- The check was added in a migration already deployed; validating it here
-- and then SET NOT NULL skips the scan (PostgreSQL 12+).
SET lock_timeout = '5s';
ALTER TABLE users VALIDATE CONSTRAINT users_email_nn;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
