-- expect: drop-not-null
-- base: CREATE DOMAIN email_address AS text NOT NULL;
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email email_address);
-- DROP NOT NULL on a domain lets every column of it hold NULL.
SET lock_timeout = '5s';
ALTER DOMAIN email_address DROP NOT NULL;
