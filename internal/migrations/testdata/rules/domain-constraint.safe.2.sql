-- expect:
SET lock_timeout = '5s';
-- DROP NOT NULL and SET DEFAULT check no rows.
ALTER DOMAIN positive_amount DROP NOT NULL;
ALTER DOMAIN positive_amount SET DEFAULT 1;
