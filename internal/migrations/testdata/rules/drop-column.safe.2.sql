-- expect:
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
-- With search_path set to audit first, the unqualified users is the new
-- audit.users; public.users is left alone.
CREATE SCHEMA audit;
SET search_path = audit, public;
CREATE TABLE users (id bigint, name text);
CREATE INDEX users_name ON users (name);
ALTER TABLE users DROP COLUMN name;
ALTER TABLE audit.users ADD COLUMN note text NOT NULL;
