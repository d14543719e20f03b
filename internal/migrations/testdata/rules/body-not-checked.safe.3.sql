-- expect:
-- The idempotent form ORMs write (EXCEPTION handlers that do NULL) is read:
-- its statements are checked, and a new type needs nothing more.
SET lock_timeout = '5s';
DO $$ BEGIN
 CREATE TYPE mood AS ENUM ('ok', 'meh');
EXCEPTION
 WHEN duplicate_object THEN null;
END $$;
