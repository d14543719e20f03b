-- expect: rename-column
-- base: CREATE TYPE address AS (street text, zip text);
-- base: CREATE TABLE users (id bigint PRIMARY KEY, home address);
SET lock_timeout = '5s';
ALTER TYPE address RENAME ATTRIBUTE zip TO postcode;
