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
