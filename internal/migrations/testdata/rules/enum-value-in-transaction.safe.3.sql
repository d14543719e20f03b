-- postgres: 13
-- expect:
-- base: CREATE TYPE mood AS ENUM ('ok', 'sad');
-- base: CREATE TABLE users (id bigint PRIMARY KEY, mood mood, note text);
-- The value is used after the transaction that added it commits; the
-- same text in a column of another type is no use of it.
SET lock_timeout = '5s';
BEGIN;
ALTER TYPE mood ADD VALUE 'meh';
UPDATE users SET note = 'meh' WHERE id = 1;
COMMIT;
UPDATE users SET mood = 'meh' WHERE mood IS NULL;
