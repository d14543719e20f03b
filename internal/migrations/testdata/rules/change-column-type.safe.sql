-- expect:
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100), code varchar(10));
-- The deployed schema says email is varchar(100): widening it (or making it
-- text) only changes the catalog, no rewrite (PostgreSQL: ALTER TABLE, notes).
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN email TYPE varchar(255);
ALTER TABLE users ALTER COLUMN code TYPE text;
