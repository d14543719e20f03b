-- postgres: 13
-- expect:
SET lock_timeout = '5s';
BEGIN;
ALTER TYPE mood ADD VALUE IF NOT EXISTS 'meh' AFTER 'ok';
COMMIT;
