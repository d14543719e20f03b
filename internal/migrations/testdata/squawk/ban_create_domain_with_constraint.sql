-- squawk rule ban-create-domain-with-constraint (crates/squawk_linter/src/rules/ban_create_domain_with_constraint.rs)

-- case: err
-- squawk: flags
-- expect: ok
-- rules: domain-constraint lock-timeout

CREATE DOMAIN domain_name_3 AS NUMERIC(15,5) CHECK (value > 0);

-- case: err_with_multiple_constraints
-- squawk: flags
-- expect: ok
-- rules: domain-constraint lock-timeout

create domain d as t check (value > 0) not null;

-- case: ok
-- squawk: ok
-- expect: ok
-- rules: lock-timeout

CREATE DOMAIN domain_name_1 AS TEXT;
CREATE DOMAIN domain_name_2 AS CHARACTER VARYING;
