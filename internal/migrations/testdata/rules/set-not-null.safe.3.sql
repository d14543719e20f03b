-- expect:
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text CONSTRAINT users_email_nn CHECK (email IS NOT NULL));
-- The deployed schema has a validated check already (added valid in an earlier migration).
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
