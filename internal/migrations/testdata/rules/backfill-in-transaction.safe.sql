-- expect:
-- Plain SQL: the ALTER commits before the UPDATE runs.
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';
UPDATE users SET plan = 'pro' WHERE paid;
