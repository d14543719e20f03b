-- expect:
-- base: CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);
-- A nullable column added in the change loses its default: the running
-- release's INSERTs leave it NULL, which it allows; on a table created in
-- the change no release inserts yet.
SET lock_timeout = '5s';
ALTER TABLE orders ADD COLUMN note text DEFAULT '';
ALTER TABLE orders ALTER COLUMN note DROP DEFAULT;
CREATE TABLE refunds (id bigint PRIMARY KEY);
ALTER TABLE refunds ADD COLUMN reason text NOT NULL DEFAULT 'n/a';
ALTER TABLE refunds ALTER COLUMN reason DROP DEFAULT;
