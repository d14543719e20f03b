-- expect:
-- base: CREATE TABLE parcels (id bigint PRIMARY KEY);
-- base: CREATE DOMAIN label AS text;
-- base: CREATE DOMAIN grams AS integer CONSTRAINT grams_positive CHECK (VALUE >= 0);
-- base: ALTER DOMAIN grams DROP CONSTRAINT grams_positive;
-- Domains without constraints (none written, or the only one dropped)
-- add like their base type: no rewrite.
SET lock_timeout = '5s';
ALTER TABLE parcels ADD COLUMN tag label DEFAULT 'none';
ALTER TABLE parcels ADD COLUMN weight grams;
