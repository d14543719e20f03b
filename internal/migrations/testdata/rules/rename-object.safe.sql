-- expect:
-- Created in the same change: no release calls it yet.
SET lock_timeout = '5s';
CREATE FUNCTION normalize_email(e text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT lower(e) $$;
ALTER FUNCTION normalize_email(text) RENAME TO clean_email;
CREATE TYPE mood AS ENUM ('sad', 'ok');
ALTER TYPE mood RENAME TO feeling;
