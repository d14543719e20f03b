-- expect: add-not-null-column table-rewrite statement-timeout
-- base: CREATE TABLE parcels (id bigint PRIMARY KEY);
-- base: CREATE DOMAIN sku AS text NOT NULL;
-- A domain that is NOT NULL makes the column NOT NULL: without a DEFAULT
-- the statement fails on a table with rows (domain sku does not allow null
-- values).
SET lock_timeout = '5s';
ALTER TABLE parcels ADD COLUMN code sku;
