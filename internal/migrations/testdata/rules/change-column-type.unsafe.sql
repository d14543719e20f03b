-- expect: change-column-type statement-timeout
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN id TYPE bigint;
