-- expect: drop-unique-constraint
-- base: CREATE TABLE users (id bigint, email text UNIQUE, handle text, CONSTRAINT users_handle_uq UNIQUE (handle, id));
SET lock_timeout = '5s';
ALTER TABLE users DROP CONSTRAINT users_email_key, DROP CONSTRAINT users_handle_uq;
