-- expect: index-without-concurrently
-- base: CREATE TABLE users_copy (id bigint, email text);
-- IF NOT EXISTS on a table the schema has: PostgreSQL skips it.
SET lock_timeout = '5s';
SET statement_timeout = '5s';
CREATE TABLE IF NOT EXISTS users_copy AS SELECT * FROM users;
CREATE INDEX users_copy_email ON users_copy (email);
