-- postgres: 11
-- expect: enum-value-in-transaction
SET lock_timeout = '5s';
BEGIN;
ALTER TYPE mood ADD VALUE 'meh';
COMMIT;
