-- expect:
-- a column added earlier in the same change is not used by the running release
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN scratch text;
ALTER TABLE users DROP COLUMN scratch;
