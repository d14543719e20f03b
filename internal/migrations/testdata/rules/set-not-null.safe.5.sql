-- expect:
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
-- An unnamed check is users_check (it names two columns), and each
-- IS NOT NULL term of an AND proves its column: both SET NOT NULLs skip
-- the scan (PostgreSQL 12+).
SET lock_timeout = '5s';
ALTER TABLE users ADD CHECK (email IS NOT NULL AND name IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_check;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
ALTER TABLE users ALTER COLUMN name SET NOT NULL;
