-- postgres: 10
-- expect: volatile-default
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';
