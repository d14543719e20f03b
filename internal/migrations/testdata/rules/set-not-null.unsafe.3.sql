-- expect: set-not-null statement-timeout
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text);
-- base: ALTER TABLE users ADD CONSTRAINT users_email_nn CHECK (email IS NOT NULL);
-- Dropping the check in the same ALTER TABLE drops it before the SET NOT
-- NULL: the table is scanned.
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN email SET NOT NULL, DROP CONSTRAINT users_email_nn;
