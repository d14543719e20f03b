-- postgres: 13
-- expect: enum-value-in-transaction
-- file: 000002_mood.up.sql
-- base: CREATE TYPE mood AS ENUM ('ok', 'sad');
-- base: CREATE TABLE users (id bigint PRIMARY KEY, mood mood, note text);
-- ADD VALUE runs in golang-migrate's transaction (fine from 12), but the
-- UPDATE in the same transaction uses the new value: PostgreSQL refuses.
SET lock_timeout = '5s';
ALTER TYPE mood ADD VALUE 'meh';
UPDATE users SET mood = 'meh' WHERE mood IS NULL;
