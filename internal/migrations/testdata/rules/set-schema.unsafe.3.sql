-- expect: set-schema
-- A function or type moved out of the search_path: the running release's
-- calls and casts that name it without a schema stop finding it.
SET lock_timeout = '5s';
ALTER FUNCTION normalize_email(text) SET SCHEMA util;
ALTER TYPE mood SET SCHEMA util;
