-- expect: rename-object
-- The running release calls the function and casts to the type by their
-- old names.
SET lock_timeout = '5s';
ALTER FUNCTION normalize_email(text) RENAME TO clean_email;
ALTER TYPE mood RENAME TO feeling;
