-- squawk rule changing-column-type (crates/squawk_linter/src/rules/changing_column_type.rs)

-- case: err
-- squawk: flags
-- expect: ok
-- rules: change-column-type lock-timeout statement-timeout

BEGIN;
--
-- Alter field edits on recipe
--
ALTER TABLE "core_recipe" ALTER COLUMN "edits" TYPE text USING "edits"::text;
COMMIT;

-- case: another_err
-- squawk: flags
-- expect: ok
-- rules: change-column-type lock-timeout statement-timeout

BEGIN;
--
-- Alter field foo on recipe
--
ALTER TABLE "core_recipe" ALTER COLUMN "foo" TYPE varchar(255) USING "foo"::varchar(255);
ALTER TABLE "core_recipe" ALTER COLUMN "foo" TYPE text USING "foo"::text;
COMMIT;

-- case: err_deployed_integer
-- squawk: flags
-- base: CREATE TABLE core_recipe (id serial PRIMARY KEY, edits integer);
-- expect: blocked
-- rules: change-column-type lock-timeout statement-timeout

BEGIN;
--
-- Alter field edits on recipe
--
ALTER TABLE "core_recipe" ALTER COLUMN "edits" TYPE text USING "edits"::text;
COMMIT;

-- case: another_err_deployed_varchar
-- squawk: flags
-- base: CREATE TABLE core_recipe (id serial PRIMARY KEY, foo varchar(100));
-- expect: ok
-- rules: lock-timeout
-- differs: with the deployed column varchar(100), varchar(255) and then text are catalog-only changes (no rewrite, measured by the table's file node); USING "foo"::<the new type> is the cast PostgreSQL applies anyway

BEGIN;
--
-- Alter field foo on recipe
--
ALTER TABLE "core_recipe" ALTER COLUMN "foo" TYPE varchar(255) USING "foo"::varchar(255);
ALTER TABLE "core_recipe" ALTER COLUMN "foo" TYPE text USING "foo"::text;
COMMIT;
