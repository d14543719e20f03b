-- squawk rule prefer-robust-stmts (crates/squawk_linter/src/rules/prefer_robust_stmts.rs)
-- A style rule (re-runnable statements): pmguard judges each statement by what it does
-- to the running release; a tool records each applied migration and does not re-run it.

-- case: fix_drop_type_if_exists
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

drop type t;
DROP TYPE f;

-- case: fix_drop_index_if_exists
-- squawk: flags
-- expect: blocked
-- rules: drop-index-without-concurrently lock-timeout

drop index i;
DROP INDEX CONCURRENTLY idx;

-- case: fix_drop_table_if_exists
-- squawk: flags
-- expect: ok
-- rules: drop-table lock-timeout

drop table t;
DROP TABLE users;

-- case: fix_create_index_if_not_exists
-- squawk: flags
-- expect: blocked
-- rules: index-without-concurrently lock-timeout statement-timeout

create index idx on items (col);
CREATE INDEX CONCURRENTLY idx2 ON users (email);

-- case: fix_create_table_if_not_exists
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

create table t (id int);
CREATE TABLE users (id serial, name text);

-- case: fix_alter_table_add_column_if_not_exists
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

alter table t add column c text;
ALTER TABLE users ADD COLUMN email text;

-- case: fix_alter_table_drop_column_if_exists
-- squawk: flags
-- expect: ok
-- rules: drop-column lock-timeout

alter table t drop column c;
ALTER TABLE users DROP COLUMN email;

-- case: fix_alter_table_drop_constraint_if_exists
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

alter table t drop constraint c;
ALTER TABLE users DROP CONSTRAINT pk_users;

-- case: drop_before_end_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

ALTER TABLE "app_email" DROP CONSTRAINT IF EXISTS "email_uniq";
ALTER TABLE "app_email" ADD CONSTRAINT "email_uniq" UNIQUE USING INDEX "email_idx";

-- case: drop_index_if_exists_ok
-- squawk: ok
-- expect: ok
-- rules:

select 1; -- so we don't skip checking
DROP INDEX CONCURRENTLY IF EXISTS "email_idx";

-- case: drop_before_add_foreign_key_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

ALTER TABLE "app_email" DROP CONSTRAINT IF EXISTS "fk_user";
ALTER TABLE "app_email" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "app_user" ("id") DEFERRABLE INITIALLY DEFERRED NOT VALID;
ALTER TABLE "app_email" VALIDATE CONSTRAINT "fk_user";

-- case: prefer_robust_stmt_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

BEGIN;
ALTER TABLE "core_foo" ADD COLUMN "answer_id" integer NULL;
COMMIT;

-- case: prefer_robust_stmt_part_2_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

select 1; -- so we don't skip checking
ALTER TABLE "core_foo" ADD COLUMN IF NOT EXISTS "answer_id" integer NULL;

-- case: prefer_robust_stmt_part_3_ok
-- squawk: ok
-- expect: ok
-- rules:

select 1; -- so we don't skip checking
CREATE INDEX CONCURRENTLY IF NOT EXISTS "core_foo_idx" ON "core_foo" ("answer_id");

-- case: prefer_robust_stmt_part_4_ok
-- squawk: ok
-- expect: ok
-- rules:

BEGIN;
CREATE TABLE "core_bar" (
    "id" serial NOT NULL PRIMARY KEY,
    "bravo" text NOT NULL
);
COMMIT;

-- case: prefer_robust_stmt_part_5_ok
-- squawk: ok
-- expect: ok
-- rules:

CREATE TABLE IF NOT EXISTS "core_bar" (
    "id" serial NOT NULL PRIMARY KEY,
    "bravo" text NOT NULL
);

-- case: prefer_robust_stmt_part_6_ok
-- squawk: ok
-- expect: blocked
-- rules: drop-index-without-concurrently drop-table lock-timeout
-- differs: squawk's require-concurrent-index-deletion and ban-drop-table flag it, not this rule

BEGIN;
DROP INDEX "core_bar_foo_id_idx";
DROP TABLE "core_bar";
DROP TYPE foo;
COMMIT;

-- case: select_ok
-- squawk: ok
-- expect: ok
-- rules:

select 1; -- so we don't skip checking
SELECT 1;

-- case: insert_ok
-- squawk: ok
-- expect: ok
-- rules:

select 1; -- so we don't skip checking
INSERT INTO tbl VALUES (a);

-- case: alter_table_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

select 1; -- so we don't skip checking
ALTER TABLE "core_foo" DROP CONSTRAINT IF EXISTS "core_foo_idx";

-- case: assume_in_transaction_add_column_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

-- +goose Up
select 1; -- so we don't skip checking
ALTER TABLE "core_foo" ADD COLUMN "answer_id" integer NULL;

-- case: assume_in_transaction_drop_table_ok
-- squawk: ok
-- expect: blocked
-- rules: drop-index-without-concurrently drop-table lock-timeout
-- differs: squawk's require-concurrent-index-deletion and ban-drop-table flag it, not this rule

-- +goose Up
DROP INDEX "core_bar_foo_id_idx";
DROP TABLE "core_bar";
DROP TYPE foo;

-- case: assume_in_transaction_create_table_ok
-- squawk: ok
-- expect: ok
-- rules:

-- +goose Up
CREATE TABLE "core_bar" (
    "id" serial NOT NULL PRIMARY KEY,
    "bravo" text NOT NULL
);

-- case: create_index_concurrently_without_name_ok
-- squawk: ok
-- expect: blocked
-- rules: concurrently-in-transaction
-- differs: goose runs the file in a transaction, where CREATE INDEX CONCURRENTLY fails (squawk's ban-concurrent-index-creation-in-transaction flags it, not this rule)

-- +goose Up
CREATE INDEX CONCURRENTLY ON "table_name" ("field_name");
CREATE INDEX CONCURRENTLY ON "table_name" ("field_name");

-- case: start_transaction_ok
-- squawk: ok
-- expect: blocked
-- rules: lock-timeout transaction-nesting
-- differs: START TRANSACTION inside the transaction goose runs the file in (squawk's transaction-nesting flags it, not this rule)

-- +goose Up
START TRANSACTION;

ALTER TABLE "A" DROP CONSTRAINT "UQ_c4fb579a038211909ee524ccf29";

ALTER TABLE "B" DROP CONSTRAINT "UQ_791c01fe9438d66a94490d0da28";

ALTER TABLE "C" DROP CONSTRAINT "UQ_23fbf20e8ab4e806941359f4f79";

ALTER TABLE "D" DROP CONSTRAINT "UQ_468cad3743146a81c94b0b114ac";

COMMIT;

-- case: alter_table_err
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

select 1; -- so we don't skip checking
ALTER TABLE "core_foo" ADD COLUMN "answer_id" integer NULL;

-- case: create_index_concurrently_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

select 1; -- so we don't skip checking
CREATE INDEX CONCURRENTLY "core_foo_idx" ON "core_foo" ("answer_id");

-- case: alter_table_drop_column_err
-- squawk: flags
-- expect: ok
-- rules: drop-column lock-timeout

select 1; -- so we don't skip checking
alter table t drop column c cascade;

-- case: alter_table_drop_column_ok
-- squawk: ok
-- expect: ok
-- rules: drop-column lock-timeout
-- differs: pmguard reports every dropped column of a table the change did not create (a warning when the deployed code does not use it); IF EXISTS changes nothing for the running release

select 1; -- so we don't skip checking
alter table t drop column if exists c cascade;

-- case: create_table_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

select 1; -- so we don't skip checking
CREATE TABLE "core_bar" ( "id" serial NOT NULL PRIMARY KEY, "bravo" text NOT NULL);

-- case: alter_table_drop_constraint_err
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

select 1; -- so we don't skip checking
ALTER TABLE "core_foo" DROP CONSTRAINT "core_foo_idx";

-- case: create_index_concurrently_unnamed_ok
-- squawk: ok
-- expect: ok
-- rules:

select 1; -- so we don't skip checking
CREATE INDEX CONCURRENTLY ON "table_name" ("field_name");

-- case: enable_row_level_security_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it (the table is created in the same change)

CREATE TABLE IF NOT EXISTS test();
ALTER TABLE IF EXISTS test ENABLE ROW LEVEL SECURITY;

-- case: disable_row_level_security_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it (the table is created in the same change)

CREATE TABLE IF NOT EXISTS test();
ALTER TABLE IF EXISTS test DISABLE ROW LEVEL SECURITY;

-- case: double_add_after_drop_err
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it (PostgreSQL rejects the second ADD CONSTRAINT, which the real-database mode reports)

ALTER TABLE "app_email" DROP CONSTRAINT IF EXISTS "email_uniq";
ALTER TABLE "app_email" ADD CONSTRAINT "email_uniq" UNIQUE USING INDEX "email_idx";
-- this second add constraint should error because it's not robust
ALTER TABLE "app_email" ADD CONSTRAINT "email_uniq" UNIQUE USING INDEX "email_idx";

-- case: alter_column_set_not_null
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

select 1; -- so we don't skip checking
alter table t alter column c set not null;

-- case: drop_index_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

select 1; -- so we don't skip checking
DROP INDEX CONCURRENTLY "email_idx";

-- case: create_temp_table_on_commit_drop_ok
-- squawk: ok
-- expect: ok
-- rules:

select 1; -- so we don't skip checking
CREATE TEMP TABLE test_table (id int) ON COMMIT DROP;

-- case: create_temp_table_without_on_commit_drop_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

select 1; -- so we don't skip checking
CREATE TEMP TABLE test_table (id int);
