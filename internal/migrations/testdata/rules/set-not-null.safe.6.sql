-- expect:
-- base: CREATE TABLE ledger_entries (entry_no bigint, memo text);
-- base: CREATE UNIQUE INDEX ledger_entries_no_uidx ON ledger_entries (entry_no);
-- base: ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_no_nn CHECK (entry_no IS NOT NULL) NOT VALID;
-- base: CREATE TABLE batches (batch_no bigint NOT NULL);
-- base: CREATE UNIQUE INDEX batches_no_uidx ON batches (batch_no);
-- The check added NOT VALID by a deployed migration is validated here:
-- PostgreSQL 12+ uses it for the key's NOT NULL and skips the scan. A key
-- on a column already NOT NULL needs no check at all.
SET lock_timeout = '5s';
ALTER TABLE ledger_entries VALIDATE CONSTRAINT ledger_entries_no_nn;
ALTER TABLE ledger_entries ADD CONSTRAINT ledger_entries_pkey PRIMARY KEY USING INDEX ledger_entries_no_uidx;
ALTER TABLE batches ADD CONSTRAINT batches_pkey PRIMARY KEY USING INDEX batches_no_uidx;
