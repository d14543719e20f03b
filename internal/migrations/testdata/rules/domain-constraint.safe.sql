-- expect:
SET lock_timeout = '5s';
CREATE DOMAIN email_address AS text;
ALTER DOMAIN positive_amount ADD CONSTRAINT positive CHECK (VALUE > 0) NOT VALID;
