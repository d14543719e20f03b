-- squawk rule adding-field-with-default (crates/squawk_linter/src/rules/adding_field_with_default.rs)

-- case: docs_example_ok_post_pg_11
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

-- instead of
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT 10;

-- case: docs_example_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

-- use
ALTER TABLE "core_recipe" ADD COLUMN "foo" integer;
ALTER TABLE "core_recipe" ALTER COLUMN "foo" SET DEFAULT 10;
-- backfill
-- remove nullability

-- case: default_uuid_error_multi_stmt
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout statement-timeout table-rewrite volatile-default

alter table t set logged, add column c integer default uuid();

-- case: default_uuid_error
-- squawk: flags
-- expect: ok
-- rules: lock-timeout statement-timeout volatile-default

ALTER TABLE "core_recipe" ADD COLUMN "foo" integer DEFAULT uuid();

-- case: default_volatile_func_err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout statement-timeout volatile-default

    -- VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" boolean DEFAULT random();

-- case: default_bool_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

    -- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" boolean DEFAULT true;

-- case: default_str_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" text DEFAULT 'some-str';

-- case: default_enum_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" some_enum_type DEFAULT 'my-enum-variant';

-- case: default_jsonb_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" jsonb DEFAULT '{}'::jsonb;

-- case: arbitrary_func_err
-- squawk: flags
-- expect: ok
-- rules: lock-timeout statement-timeout volatile-default

-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" jsonb DEFAULT myjsonb();

-- case: default_random_with_args_err
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: now() is STABLE, with or without arguments: PostgreSQL evaluates the default once and stores it in the catalog (11+), no rewrite; now(123) does not exist, which PostgreSQL reports when it runs (the real-database mode's migration-fails)

-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" timestamptz DEFAULT now(123);

-- case: default_func_now_ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

-- NON-VOLATILE
ALTER TABLE "core_recipe" ADD COLUMN "foo" timestamptz DEFAULT now();

-- case: add_numbers_ok
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: 2 + 2 is an immutable expression: the default is evaluated once and stored (11+), no rewrite; squawk's own test calls it "should be okay"

alter table account_metadata add column blah integer default 2 + 2;

-- case: generated_stored_err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout statement-timeout table-rewrite

ALTER TABLE foo
ADD COLUMN bar numeric GENERATED ALWAYS AS (bar + baz) STORED;
