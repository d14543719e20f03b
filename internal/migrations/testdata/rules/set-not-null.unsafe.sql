-- expect: set-not-null
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN email SET NOT NULL;
