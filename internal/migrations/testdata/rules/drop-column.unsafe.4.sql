-- expect: drop-column
SET lock_timeout = '5s';
DO $$ BEGIN ALTER TABLE users DROP COLUMN legacy_name; END $$;
