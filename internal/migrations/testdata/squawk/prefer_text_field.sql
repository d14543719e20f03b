-- squawk rule prefer-text-field (crates/squawk_linter/src/rules/prefer_text_field.rs)

-- case: increase_varchar_size_err
-- squawk: flags
-- base: CREATE TABLE core_foo (id serial PRIMARY KEY, kind varchar(255) NOT NULL);
-- expect: ok
-- rules: lock-timeout
-- differs: raising a varchar limit changes the catalog only (no rewrite, measured by the table's file node); USING "kind"::varchar(1000) is the cast PostgreSQL applies anyway, and its ACCESS EXCLUSIVE lock lasts as long as the catalog update

BEGIN;
--
-- Alter field kind on foo
--
ALTER TABLE "core_foo" ALTER COLUMN "kind" TYPE varchar(1000) USING "kind"::varchar(1000);
COMMIT;

-- case: create_table_with_varchar_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

BEGIN;
--
-- Create model Bar
--
CREATE TABLE "core_bar" (
    "id" serial NOT NULL PRIMARY KEY, 
    "alpha" varchar(100) NOT NULL
);
COMMIT;

-- case: create_table_with_pgcatalog_varchar_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

create table t (
    "id" serial NOT NULL PRIMARY KEY, 
    "alpha" pg_catalog.varchar(100) NOT NULL
);

-- case: adding_column_non_text_err
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

BEGIN;
ALTER TABLE "foo_table" ADD COLUMN "foo_column" varchar(256) NULL;
COMMIT;

-- case: varchar_without_specified_limit_ok
-- squawk: ok
-- expect: ok
-- rules:

CREATE TABLE IF NOT EXISTS foo_table(bar_col varchar);

-- case: create_table_with_text_ok
-- squawk: ok
-- expect: ok
-- rules:

BEGIN;
--
-- Create model Bar
--
CREATE TABLE "core_bar" (
    "id" serial NOT NULL PRIMARY KEY, 
    "bravo" text NOT NULL
);
--
-- Create constraint text_size on model bar
--
ALTER TABLE "core_bar" ADD CONSTRAINT "text_size" CHECK (LENGTH("bravo") <= 100);
COMMIT;
