-- squawk rule transaction-nesting (crates/squawk_linter/src/rules/transaction_nesting.rs)
-- squawk's assume-in-transaction setting is a goose migration here: goose runs the file in one transaction.

-- case: begin_repeated_err
-- squawk: flags
-- expect: blocked
-- rules: transaction-nesting

BEGIN;
BEGIN;
SELECT 1;
COMMIT;

-- case: commit_repeated_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: in a plain SQL file the second COMMIT has no transaction to end: PostgreSQL answers with a warning and nothing runs differently

BEGIN;
SELECT 1;
COMMIT;
COMMIT;

-- case: commit_with_assume_in_transaction_err
-- squawk: flags
-- expect: blocked
-- rules: transaction-nesting

-- +goose Up
SELECT 1;
COMMIT;

-- case: rollback_with_assume_in_transaction_err
-- squawk: flags
-- expect: blocked
-- rules: transaction-nesting

-- +goose Up
SELECT 1;
-- Not sure why rollback would be used in a migration, but test for completeness
ROLLBACK;

-- case: begin_assume_transaction_err
-- squawk: flags
-- expect: blocked
-- rules: transaction-nesting

-- +goose Up
BEGIN;
BEGIN;
SELECT 1;
COMMIT;

-- case: no_nesting_ok
-- squawk: ok
-- expect: ok
-- rules:

BEGIN;
SELECT 1;
COMMIT;

-- case: no_nesting_repeated_ok
-- squawk: ok
-- expect: ok
-- rules:

BEGIN;
SELECT 1;
COMMIT;
-- This probably shouldn't be done in a migration. However, Squawk may be linting several
-- migrations that are concatentated, so don't raise a warning here.
BEGIN;
SELECT 2;
COMMIT;

-- case: no_nesting_with_assume_transaction_ok
-- squawk: ok
-- expect: ok
-- rules:

-- +goose Up
SELECT 1;
