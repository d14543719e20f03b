-- expect: change-column-type statement-timeout
-- base: CREATE TABLE events (id bigint PRIMARY KEY, at timestamp(6));
-- Lowering a timestamp's precision rounds every value: a rewrite.
SET lock_timeout = '5s';
ALTER TABLE events ALTER COLUMN at TYPE timestamp(3);
