-- expect: change-column-type
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN id TYPE bigint;
