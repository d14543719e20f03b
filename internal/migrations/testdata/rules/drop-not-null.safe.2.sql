-- expect:
-- A domain created in the same change is used by no running release.
SET lock_timeout = '5s';
CREATE DOMAIN email_address AS text NOT NULL DEFAULT '';
ALTER DOMAIN email_address DROP NOT NULL;
ALTER DOMAIN email_address DROP DEFAULT;
