-- expect:
SET lock_timeout = '5s';
-- SET DEFAULT and DROP CONSTRAINT check no rows.
ALTER DOMAIN positive_amount SET DEFAULT 1;
ALTER DOMAIN positive_amount DROP CONSTRAINT positive;
