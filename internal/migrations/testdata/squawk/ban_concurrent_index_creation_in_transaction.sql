-- squawk rule ban-concurrent-index-creation-in-transaction (crates/squawk_linter/src/rules/ban_concurrent_index_creation_in_transaction.rs)
-- squawk's assume-in-transaction setting is a goose migration here: goose runs the file in one transaction.

-- case: ban_concurrent_index_creation_in_transaction_err
-- squawk: flags
-- expect: blocked
-- rules: concurrently-in-transaction

        -- instead of
        BEGIN;
        CREATE INDEX CONCURRENTLY "field_name_idx" ON "table_name" ("field_name");
        COMMIT;

-- case: ban_concurrent_index_creation_in_transaction_ok
-- squawk: ok
-- expect: ok
-- rules:

  -- run outside a transaction
  CREATE INDEX CONCURRENTLY "field_name_idx" ON "table_name" ("field_name");

-- case: assuming_in_transaction_err
-- squawk: flags
-- expect: blocked
-- rules: concurrently-in-transaction lock-timeout

-- +goose Up
  -- instead of
  CREATE UNIQUE INDEX CONCURRENTLY "field_name_idx" ON "table_name" ("field_name");
  ALTER TABLE "table_name" ADD CONSTRAINT "field_name_id" UNIQUE USING INDEX "field_name_idx";

-- case: assuming_in_transaction_ok
-- squawk: ok
-- expect: blocked
-- rules: concurrently-in-transaction
-- differs: squawk skips a file of one statement (it assumes the tool runs one statement outside a transaction); goose runs it in a transaction all the same, and CREATE INDEX CONCURRENTLY then fails

-- +goose Up
  -- run index creation in a standalone migration
  CREATE UNIQUE INDEX CONCURRENTLY "field_name_idx" ON "table_name" ("field_name");

-- case: assuming_in_transaction_ok_standalone_golang_migrate
-- squawk: ok
-- file: 0002_change.up.sql
-- expect: ok
-- rules:

  -- run index creation in a standalone migration
  CREATE UNIQUE INDEX CONCURRENTLY "field_name_idx" ON "table_name" ("field_name");

-- case: assuming_in_transaction_ok_also
-- squawk: ok
-- expect: blocked
-- rules: lock-timeout transaction-nesting
-- differs: the COMMIT ends the transaction goose runs the file in: the tool then records a migration whose first part was committed on its own (squawk's transaction-nesting flags it under assume-in-transaction)

-- +goose Up
  -- the following will work too
  COMMIT;
  CREATE UNIQUE INDEX CONCURRENTLY "field_name_idx" ON "table_name" ("field_name");
  BEGIN;
  ALTER TABLE "table_name" ADD CONSTRAINT "field_name_id" UNIQUE USING INDEX "field_name_idx";
