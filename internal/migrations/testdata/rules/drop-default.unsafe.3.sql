-- expect: drop-default
-- base: CREATE DOMAIN status AS text DEFAULT 'new';
-- DROP DEFAULT on a domain: INSERTs that leave a column of it out get NULL.
SET lock_timeout = '5s';
ALTER DOMAIN status DROP DEFAULT;
