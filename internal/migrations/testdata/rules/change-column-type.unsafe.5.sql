-- expect: change-column-type
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));
-- base: CREATE VIEW user_emails AS SELECT id, email FROM users;
-- Widening needs no rewrite, but PostgreSQL refuses to change the type of
-- a column a view reads: the migration fails.
SET lock_timeout = '5s';
SET statement_timeout = '5s';
ALTER TABLE users ALTER COLUMN email TYPE varchar(255);
