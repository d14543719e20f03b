-- expect: drop-column
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
-- RESET search_path puts public first again: the last users is public.users.
CREATE SCHEMA audit;
SET search_path TO audit;
CREATE TABLE users (id bigint, name text);
RESET search_path;
SET lock_timeout = '5s';
ALTER TABLE users DROP COLUMN name;
