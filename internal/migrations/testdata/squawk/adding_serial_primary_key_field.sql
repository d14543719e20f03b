-- squawk rule adding-serial-primary-key-field (crates/squawk_linter/src/rules/adding_primary_key_constraint.rs)

-- case: serial_primary_key
-- squawk: flags
-- expect: blocked
-- rules: add-primary-key lock-timeout statement-timeout volatile-default

        ALTER TABLE a ADD COLUMN b SERIAL PRIMARY KEY;

-- case: plain_primary_key
-- squawk: flags
-- expect: blocked
-- rules: add-primary-key lock-timeout statement-timeout

ALTER TABLE items ADD PRIMARY KEY (id);

-- case: okay_add_constraint
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

ALTER TABLE items ADD CONSTRAINT items_pk PRIMARY KEY USING INDEX items_pk;
