-- expect: drop-default
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN plan DROP DEFAULT;
