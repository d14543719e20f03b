-- expect: set-not-null statement-timeout
-- base: CREATE TABLE ledger_entries (entry_no bigint, memo text);
-- The unique index is built without blocking, but entry_no is nullable:
-- PRIMARY KEY USING INDEX sets it NOT NULL first, which scans the table
-- under ACCESS EXCLUSIVE.
SET lock_timeout = '5s';
CREATE UNIQUE INDEX CONCURRENTLY ledger_entries_no_uidx ON ledger_entries (entry_no);
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_pkey PRIMARY KEY USING INDEX ledger_entries_no_uidx;
