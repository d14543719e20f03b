-- expect: drop-default
-- base: CREATE TABLE users (id bigint, plan text DEFAULT 'free');
-- SET DEFAULT NULL drops the default.
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN plan SET DEFAULT NULL::text;
