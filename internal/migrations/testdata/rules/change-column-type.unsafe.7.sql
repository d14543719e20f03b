-- expect: change-column-type
-- base: CREATE TYPE address AS (street text, zip varchar(10));
-- base: CREATE TABLE users (id bigint PRIMARY KEY, home address);
-- PostgreSQL refuses to change an attribute's type while a column has the
-- type, CASCADE or not: the migration fails.
SET lock_timeout = '5s';
ALTER TYPE address ALTER ATTRIBUTE zip TYPE varchar(20) CASCADE;
