-- squawk rule require-concurrent-index-creation (crates/squawk_linter/src/rules/require_concurrent_index_creation.rs)

-- case: fix_add_concurrently_named_index
-- squawk: flags
-- expect: blocked
-- rules: index-without-concurrently lock-timeout statement-timeout

CREATE INDEX i ON t (c);

-- case: fix_add_concurrently_unnamed_index
-- squawk: flags
-- expect: blocked
-- rules: index-without-concurrently lock-timeout statement-timeout

CREATE INDEX ON t (a);

-- case: adding_index_non_concurrently_err
-- squawk: flags
-- expect: blocked
-- rules: index-without-concurrently lock-timeout statement-timeout

-- instead of
CREATE INDEX "field_name_idx" ON "table_name" ("field_name");

-- case: adding_index_concurrently_ok
-- squawk: ok
-- expect: ok
-- rules:

-- use CONCURRENTLY
CREATE INDEX CONCURRENTLY "field_name_idx" ON "table_name" ("field_name");

-- case: new_table_ok
-- squawk: ok
-- expect: ok
-- rules:

BEGIN;
CREATE TABLE "core_foo" (
"id" serial NOT NULL PRIMARY KEY,
"tenant_id" integer NULL
);
CREATE INDEX "core_foo_tenant_id_4d397ef9" ON "core_foo" ("tenant_id");
COMMIT;

-- case: new_table_in_assume_transaction_ok
-- squawk: ok
-- expect: ok
-- rules:

-- +goose Up
CREATE TABLE "core_foo" (
"id" serial NOT NULL PRIMARY KEY,
"tenant_id" integer NULL
);
CREATE INDEX "core_foo_tenant_id_4d397ef9" ON "core_foo" ("tenant_id");
