-- expect: body-not-checked
-- An EXCEPTION handler that does more than NULL is not read.
SET lock_timeout = '5s';
DO $$ BEGIN
  ALTER TABLE users ADD COLUMN nickname text;
EXCEPTION
  WHEN duplicate_column THEN RAISE NOTICE 'nickname exists';
END $$;
