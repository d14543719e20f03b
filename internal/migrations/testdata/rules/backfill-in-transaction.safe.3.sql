-- expect:
-- Alembic's offline SQL records the revision in the migration's own
-- transaction: one row of the tool's table, not a backfill.
SET lock_timeout = '5s';
BEGIN;
ALTER TABLE users ADD COLUMN nickname text;
UPDATE alembic_version SET version_num='b' WHERE alembic_version.version_num = 'a';
COMMIT;
