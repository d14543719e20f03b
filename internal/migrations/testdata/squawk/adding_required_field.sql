-- squawk rule adding-required-field (crates/squawk_linter/src/rules/adding_required_field.rs)

-- case: nullable_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

ALTER TABLE "recipe" ADD COLUMN "public" boolean;

-- case: not_null_with_default
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

ALTER TABLE "recipe" ADD COLUMN "public" boolean NOT NULL DEFAULT true;

-- case: not_null_without_default
-- squawk: flags
-- expect: blocked
-- rules: add-not-null-column lock-timeout

ALTER TABLE "recipe" ADD COLUMN "public" boolean NOT NULL;

-- case: generated_stored_not_null_ok
-- squawk: ok
-- expect: blocked
-- rules: lock-timeout statement-timeout table-rewrite
-- differs: a stored generated column rewrites the table under ACCESS EXCLUSIVE (squawk's adding-field-with-default flags it; this rule does not)

ALTER TABLE foo
    ADD COLUMN bar numeric GENERATED ALWAYS AS (bar + baz) STORED NOT NULL;

-- case: generated_stored_ok
-- squawk: ok
-- expect: blocked
-- rules: lock-timeout statement-timeout table-rewrite
-- differs: a stored generated column rewrites the table under ACCESS EXCLUSIVE (squawk's adding-field-with-default flags it; this rule does not)

 ALTER TABLE foo
    ADD COLUMN bar numeric GENERATED ALWAYS AS (bar + baz) STORED ;
