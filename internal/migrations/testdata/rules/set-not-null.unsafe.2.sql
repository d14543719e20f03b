-- expect: set-not-null statement-timeout
-- A column added earlier in the same change is not exempt: it is NULL in
-- every existing row, so SET NOT NULL scans users and fails.
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN bar bigint;
ALTER TABLE users ALTER COLUMN bar SET NOT NULL;
