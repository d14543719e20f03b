-- expect: identity-always
-- The running release may give id a value; ALWAYS refuses it.
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN id SET GENERATED ALWAYS;
ALTER TABLE orders ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
