-- squawk rule ban-drop-constraint (crates/squawk_linter/src/rules/ban_drop_constraint.rs)

-- case: err
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: pmguard reports a dropped primary key or unique constraint (drop-unique-constraint, checked against the deployed code's upserts); c is neither known from the migrations nor named like one, and dropping a check or a foreign key fails no query of the running release

ALTER TABLE t DROP CONSTRAINT IF EXISTS c;

-- case: err_deployed_unique
-- squawk: flags
-- base: CREATE TABLE t (id bigint, email text, CONSTRAINT c UNIQUE (email));
-- expect: ok
-- rules: drop-unique-constraint lock-timeout

ALTER TABLE t DROP CONSTRAINT IF EXISTS c;

-- case: ok
-- squawk: ok
-- expect: blocked
-- rules: check-without-not-valid lock-timeout statement-timeout
-- differs: squawk's constraint-missing-not-valid flags it, not this rule

ALTER TABLE t ADD CONSTRAINT c CHECK (id > 0);
