-- squawk rule adding-foreign-key-constraint (crates/squawk_linter/src/rules/adding_foreign_key_constraint.rs)

-- case: create_table_with_foreign_key_constraint
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

BEGIN;
CREATE TABLE email (
    id BIGINT GENERATED ALWAYS AS IDENTITY,
    user_id BIGINT,
    email TEXT,
    PRIMARY KEY(id),
    CONSTRAINT fk_user
        FOREIGN KEY ("user_id")
        REFERENCES "user" ("id")
);
COMMIT;

-- case: create_table_with_column_references
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

CREATE TABLE table_name (
    id BIGSERIAL NOT NULL,
    my_fk_id INTEGER NOT NULL REFERENCES other_table (id) ON DELETE CASCADE
);

-- case: alter_table_foreign_key_assume_transaction
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

-- +goose Up
CREATE TABLE "emails" ("id" UUID NOT NULL, "user_id" UUID NOT NULL);
ALTER TABLE "emails" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id");

-- case: alter_table_foreign_key_in_transaction
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

BEGIN;
CREATE TABLE "emails" ("id" UUID NOT NULL, "user_id" UUID NOT NULL);
ALTER TABLE "emails" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "users" ("id");
COMMIT;

-- case: add_foreign_key_constraint_not_valid_validate
-- squawk: ok
-- expect: blocked
-- rules: lock-timeout statement-timeout validate-in-same-transaction
-- differs: VALIDATE in the transaction that added the constraint NOT VALID holds the ADD's locks through the scan (squawk's constraint-missing-not-valid flags it too; this rule does not)

BEGIN;
ALTER TABLE "email" ADD COLUMN "user_id" INT;
ALTER TABLE "email" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id") NOT VALID;
ALTER TABLE "email" VALIDATE CONSTRAINT "fk_user";
COMMIT;

-- case: add_foreign_key_constraint_lock
-- squawk: flags
-- expect: blocked
-- rules: foreign-key-without-not-valid lock-timeout statement-timeout

BEGIN;
ALTER TABLE "email" ADD COLUMN "user_id" INT;
ALTER TABLE "email" ADD CONSTRAINT "fk_user" FOREIGN KEY ("user_id") REFERENCES "user" ("id");
COMMIT;

-- case: add_column_references_lock
-- squawk: flags
-- expect: blocked
-- rules: foreign-key-without-not-valid lock-timeout statement-timeout

BEGIN;
ALTER TABLE "emails" ADD COLUMN "user_id" INT REFERENCES "user" ("id");
COMMIT;
