-- postgres: 10
-- expect: statement-timeout volatile-default
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';
