-- expect: table-rewrite statement-timeout
-- base: CREATE TABLE parcels (id bigint PRIMARY KEY);
-- base: CREATE DOMAIN grams AS integer CHECK (VALUE >= 0);
-- A column of a domain with a constraint is checked against it on every
-- existing row: PostgreSQL rewrites the table under ACCESS EXCLUSIVE, with
-- a constant DEFAULT or none (measured by the table's file node).
SET lock_timeout = '5s';
ALTER TABLE parcels ADD COLUMN weight grams;
