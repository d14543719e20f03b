-- expect: drop-column
-- base: CREATE TYPE address AS (street text, zip text);
-- base: CREATE TABLE users (id bigint PRIMARY KEY, home address);
-- DROP ATTRIBUTE removes zip from every address at once: the running
-- release's reads of (home).zip fail.
SET lock_timeout = '5s';
ALTER TYPE address DROP ATTRIBUTE zip;
