-- expect: index-without-concurrently drop-column
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL, name text);
-- IF NOT EXISTS on a table the deployed schema has does nothing: the table
-- keeps its rows and columns, and the running release still uses it.
SET lock_timeout = '5s';
SET statement_timeout = '5s';
CREATE TABLE IF NOT EXISTS users (id bigint);
CREATE INDEX users_email ON users (email);
ALTER TABLE users DROP COLUMN name;
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
