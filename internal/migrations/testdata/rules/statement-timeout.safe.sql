-- expect: set-not-null
SET lock_timeout = '5s';
SET statement_timeout = '10s';
ALTER TABLE users ALTER COLUMN email SET NOT NULL; -- pmguard:ignore set-not-null: users has 30 rows
