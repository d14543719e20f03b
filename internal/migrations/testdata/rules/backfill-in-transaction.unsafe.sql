-- expect: backfill-in-transaction statement-timeout
-- file: 0009_backfill.up.sql
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN plan text DEFAULT 'free';
UPDATE users SET plan = 'pro' WHERE paid;
