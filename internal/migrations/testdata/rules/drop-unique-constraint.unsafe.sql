-- expect: drop-unique-constraint
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text);
-- The running release's INSERT ... ON CONFLICT (id) needs the key.
SET lock_timeout = '5s';
ALTER TABLE users DROP CONSTRAINT users_pkey;
