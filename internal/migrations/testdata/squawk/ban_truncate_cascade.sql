-- squawk rule ban-truncate-cascade (crates/squawk_linter/src/rules/ban_truncate_cascade.rs)

-- case: err
-- squawk: flags
-- expect: blocked
-- rules: lock-timeout truncate

        truncate a, b, c cascade;

-- case: ok
-- squawk: ok
-- expect: blocked
-- rules: lock-timeout truncate
-- differs: TRUNCATE takes ACCESS EXCLUSIVE and deletes the rows the running release reads, with or without CASCADE

        truncate a, b, c;
        truncate a;
