-- expect:
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();
ALTER TABLE users ADD COLUMN nickname text;
