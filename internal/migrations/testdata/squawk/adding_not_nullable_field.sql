-- squawk rule adding-not-nullable-field (crates/squawk_linter/src/rules/adding_not_null_field.rs)

-- case: set_not_null
-- squawk: flags
-- postgres: 10
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

ALTER TABLE "core_recipe" ALTER COLUMN "foo" SET NOT NULL;

-- case: adding_field_that_is_not_nullable
-- squawk: ok
-- expect: blocked
-- rules: drop-default lock-timeout
-- differs: a column added NOT NULL DEFAULT and stripped of its default in the same change is one the running release never writes, so every INSERT it sends fails once the default is gone

BEGIN;
-- This will cause a table rewrite for Postgres versions before 11, but that is handled by
-- adding-field-with-default.
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT 10 NOT NULL;
ALTER TABLE "core_recipe" ALTER COLUMN "foo" DROP DEFAULT;
COMMIT;

-- case: adding_field_that_is_not_nullable_without_default
-- squawk: ok
-- expect: blocked
-- rules: add-not-null-column lock-timeout
-- differs: squawk reports it under adding-required-field, not this rule

-- This won't work if the table is populated, but that error is caught by adding-required-field.
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer NOT NULL;

-- case: adding_field_that_is_not_nullable_in_version_11
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

BEGIN;
--
-- Add field foo to recipe
--
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer NOT NULL DEFAULT 10;
COMMIT;
