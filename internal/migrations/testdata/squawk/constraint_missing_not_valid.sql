-- squawk rule constraint-missing-not-valid (crates/squawk_linter/src/rules/constraint_missing_not_valid.rs)

-- case: not_valid_validate_transaction_err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout statement-timeout validate-in-same-transaction

BEGIN;
ALTER TABLE "app_email" ADD CONSTRAINT "fk_user" FOREIGN KEY (user_id) REFERENCES "app_user" (id) NOT VALID;
ALTER TABLE "app_email" VALIDATE CONSTRAINT "fk_user";
COMMIT;

-- case: not_valid_validate_assume_transaction_err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout statement-timeout validate-in-same-transaction

-- +goose Up
ALTER TABLE "app_email" ADD CONSTRAINT "fk_user" FOREIGN KEY (user_id) REFERENCES "app_user" (id) NOT VALID;
ALTER TABLE "app_email" VALIDATE CONSTRAINT "fk_user";

-- case: not_valid_validate_with_assume_in_transaction_with_explicit_commit_err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout statement-timeout transaction-nesting validate-in-same-transaction

-- +goose Up
ALTER TABLE "app_email" ADD CONSTRAINT "fk_user" FOREIGN KEY (user_id) REFERENCES "app_user" (id) NOT VALID;
ALTER TABLE "app_email" VALIDATE CONSTRAINT "fk_user";
COMMIT;

-- case: adding_fk_err
-- squawk: flags
-- expect: blocked
-- rules: foreign-key-without-not-valid lock-timeout statement-timeout

-- instead of
ALTER TABLE distributors ADD CONSTRAINT distfk FOREIGN KEY (address) REFERENCES addresses (address);

-- case: adding_fk_not_valid_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

-- use `NOT VALID`
ALTER TABLE distributors ADD CONSTRAINT distfk FOREIGN KEY (address) REFERENCES addresses (address) NOT VALID;
ALTER TABLE distributors VALIDATE CONSTRAINT distfk;

-- case: adding_check_constraint_err
-- squawk: flags
-- expect: blocked
-- rules: check-without-not-valid lock-timeout statement-timeout

-- +goose Up
-- instead of
ALTER TABLE "accounts" ADD CONSTRAINT "positive_balance" CHECK ("balance" >= 0);

-- case: adding_check_constraint_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

-- use `NOT VALID`
ALTER TABLE "accounts" ADD CONSTRAINT "positive_balance" CHECK ("balance" >= 0) NOT VALID;
ALTER TABLE accounts VALIDATE CONSTRAINT positive_balance;

-- case: new_table_with_transaction_ok
-- squawk: ok
-- expect: ok
-- rules:

BEGIN;
CREATE TABLE "core_foo" (
"id" serial NOT NULL PRIMARY KEY,
"age" integer NOT NULL
);
ALTER TABLE "core_foo" ADD CONSTRAINT "age_restriction" CHECK ("age" >= 25);
COMMIT;

-- case: new_table_assume_transaction_ok
-- squawk: ok
-- expect: ok
-- rules:

-- +goose Up
CREATE TABLE "core_foo" (
"id" serial NOT NULL PRIMARY KEY,
"age" integer NOT NULL
);
ALTER TABLE "core_foo" ADD CONSTRAINT "age_restriction" CHECK ("age" >= 25);

-- case: using_unique_index_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

ALTER TABLE "app_email" ADD CONSTRAINT "email_uniq" UNIQUE USING INDEX "email_idx";
