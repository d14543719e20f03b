-- postgres: 11
-- expect: enum-value-in-transaction
BEGIN;
ALTER TYPE mood ADD VALUE 'meh';
COMMIT;
