-- squawk rule adding-not-nullable-field (crates/squawk_linter/src/rules/adding_not_null_field.rs)

-- case: set_not_null
-- squawk: flags
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

-- case: regression_gh_issue_519
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

BEGIN;
-- Running upgrade a -> b
ALTER TABLE my_table ALTER COLUMN my_column SET NOT NULL;
UPDATE alembic_version SET version_num='b' WHERE alembic_version.version_num = 'a';
COMMIT;

-- case: regression_gh_issue_628_pg16_with_validated_check_ok
-- squawk: ok
-- postgres: 16
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout
-- differs: bar is added in this change without a default, so it is NULL in every existing row: VALIDATE CONSTRAINT bar_not_null and SET NOT NULL fail on a table with rows

BEGIN;
ALTER TABLE foo ADD COLUMN bar BIGINT;
ALTER TABLE foo ADD CONSTRAINT bar_not_null CHECK (bar IS NOT NULL) NOT VALID;
COMMIT;

BEGIN;
ALTER TABLE foo VALIDATE CONSTRAINT bar_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
ALTER TABLE foo DROP CONSTRAINT bar_not_null;
COMMIT;

-- case: regression_gh_issue_628_pg12_with_validated_check_ok
-- squawk: ok
-- postgres: 12
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout
-- differs: bar is added in this change without a default, so it is NULL in every existing row: VALIDATE CONSTRAINT bar_not_null and SET NOT NULL fail on a table with rows

BEGIN;
ALTER TABLE foo ADD COLUMN bar BIGINT;
ALTER TABLE foo ADD CONSTRAINT bar_not_null CHECK (bar IS NOT NULL) NOT VALID;
COMMIT;

BEGIN;
ALTER TABLE foo VALIDATE CONSTRAINT bar_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
ALTER TABLE foo DROP CONSTRAINT bar_not_null;
COMMIT;

-- case: regression_gh_issue_628_pg11_with_validated_check_err
-- squawk: flags
-- postgres: 11
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

BEGIN;
ALTER TABLE foo ADD COLUMN bar BIGINT;
ALTER TABLE foo ADD CONSTRAINT bar_not_null CHECK (bar IS NOT NULL) NOT VALID;
COMMIT;

BEGIN;
ALTER TABLE foo VALIDATE CONSTRAINT bar_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
COMMIT;

-- case: pg12_without_validated_check_err
-- squawk: flags
-- postgres: 12
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;

-- case: pg12_with_check_but_not_validated_err
-- squawk: flags
-- postgres: 12
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

ALTER TABLE foo ADD CONSTRAINT bar_not_null CHECK (bar IS NOT NULL) NOT VALID;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;

-- case: pg16_cross_migration_validate_then_set_not_null_ok
-- squawk: ok
-- postgres: 16
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout
-- differs: squawk infers from the constraint's name that it checks bar IS NOT NULL; pmguard reads the check from the deployed migrations, and without them it cannot know what foo_bar_not_null checks (the _deployed case gives them)

ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;

ALTER TABLE foo
ALTER COLUMN bar
SET NOT NULL;

ALTER TABLE foo
DROP CONSTRAINT foo_bar_not_null;

-- case: pg16_cross_migration_validate_then_set_not_null_ok_deployed
-- squawk: ok
-- postgres: 16
-- base: CREATE TABLE foo (bar bigint, baz bigint); ALTER TABLE foo ADD CONSTRAINT foo_bar_not_null CHECK (bar IS NOT NULL) NOT VALID;
-- expect: ok
-- rules: lock-timeout

ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;

ALTER TABLE foo
ALTER COLUMN bar
SET NOT NULL;

ALTER TABLE foo
DROP CONSTRAINT foo_bar_not_null;

-- case: pg12_cross_migration_validate_then_set_not_null_ok
-- squawk: ok
-- postgres: 12
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout
-- differs: squawk infers from the constraint's name that it checks bar IS NOT NULL; pmguard reads the check from the deployed migrations, and without them it cannot know what foo_bar_not_null checks (the _deployed case gives them)

ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;

ALTER TABLE foo
ALTER COLUMN bar
SET NOT NULL;

ALTER TABLE foo
DROP CONSTRAINT foo_bar_not_null;

-- case: pg12_cross_migration_validate_then_set_not_null_ok_deployed
-- squawk: ok
-- postgres: 12
-- base: CREATE TABLE foo (bar bigint, baz bigint); ALTER TABLE foo ADD CONSTRAINT foo_bar_not_null CHECK (bar IS NOT NULL) NOT VALID;
-- expect: ok
-- rules: lock-timeout

ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;

ALTER TABLE foo
ALTER COLUMN bar
SET NOT NULL;

ALTER TABLE foo
DROP CONSTRAINT foo_bar_not_null;

-- case: pg12_cross_migration_unrelated_validate_err
-- squawk: flags
-- postgres: 12
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

ALTER TABLE foo VALIDATE CONSTRAINT some_other_check;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;

-- case: pg12_cross_migration_named_constraint_matches_column_only_err
-- squawk: flags
-- postgres: 12
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

ALTER TABLE foo VALIDATE CONSTRAINT bar_not_null;
ALTER TABLE foo ALTER COLUMN baz SET NOT NULL;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
ALTER TABLE foo DROP CONSTRAINT bar_not_null;

-- case: pg12_cross_migration_table_prefixed_constraint_ok
-- squawk: ok
-- postgres: 12
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout
-- differs: squawk infers from the constraint's name that it checks bar IS NOT NULL; pmguard reads the check from the deployed migrations, and without them it cannot know what foo_bar_not_null checks (the _deployed case gives them)

ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
ALTER TABLE foo DROP CONSTRAINT foo_bar_not_null;

-- case: pg12_cross_migration_table_prefixed_constraint_ok_deployed
-- squawk: ok
-- postgres: 12
-- base: CREATE TABLE foo (bar bigint, baz bigint); ALTER TABLE foo ADD CONSTRAINT foo_bar_not_null CHECK (bar IS NOT NULL) NOT VALID;
-- expect: ok
-- rules: lock-timeout

ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
ALTER TABLE foo DROP CONSTRAINT foo_bar_not_null;

-- case: pg12_cross_migration_validate_no_drop_err
-- squawk: flags
-- postgres: 12
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

ALTER TABLE foo VALIDATE CONSTRAINT bar_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;

-- case: pg11_cross_migration_validate_then_set_not_null_err
-- squawk: flags
-- postgres: 11
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
ALTER TABLE foo DROP CONSTRAINT foo_bar_not_null;

-- case: pg11_cross_migration_validate_then_set_not_null_err_deployed
-- squawk: flags
-- postgres: 11
-- base: CREATE TABLE foo (bar bigint, baz bigint); ALTER TABLE foo ADD CONSTRAINT foo_bar_not_null CHECK (bar IS NOT NULL) NOT VALID;
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

ALTER TABLE foo VALIDATE CONSTRAINT foo_bar_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
ALTER TABLE foo DROP CONSTRAINT foo_bar_not_null;

-- case: pg12_with_different_column_validated_err
-- squawk: flags
-- postgres: 12
-- expect: blocked
-- rules: lock-timeout set-not-null statement-timeout

ALTER TABLE foo ADD CONSTRAINT baz_not_null CHECK (baz IS NOT NULL) NOT VALID;
ALTER TABLE foo VALIDATE CONSTRAINT baz_not_null;
ALTER TABLE foo ALTER COLUMN bar SET NOT NULL;
