-- expect: change-column-type statement-timeout
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email varchar(100));
-- Shortening a varchar limit checks and rewrites.
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN email TYPE varchar(50);
