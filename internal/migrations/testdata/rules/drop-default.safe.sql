-- expect:
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN plan SET DEFAULT 'free';
