-- expect: change-column-type statement-timeout
-- base: CREATE TABLE users (id bigint PRIMARY KEY, tags varchar(10)[]);
-- An array of a wider varchar is a rewrite: the elements are coerced.
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN tags TYPE varchar(20)[];
