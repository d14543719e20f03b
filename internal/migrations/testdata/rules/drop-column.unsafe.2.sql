-- expect: drop-column index-without-concurrently
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text, name text);
-- A table of the same name in another schema is another table: creating
-- audit.users exempts nothing done to public.users.
SET lock_timeout = '5s';
SET statement_timeout = '5s';
CREATE SCHEMA audit;
CREATE TABLE audit.users (id bigint);
CREATE INDEX users_email ON public.users (email);
ALTER TABLE public.users DROP COLUMN name;
