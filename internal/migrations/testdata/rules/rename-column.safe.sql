-- expect:
-- expand: the new column next to the old one
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN email_address text;
