-- postgres: 13
-- expect:
BEGIN;
ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'ok';
COMMIT;
