-- squawk rule prefer-timestamptz (crates/squawk_linter/src/rules/prefer_timestamptz.rs)

-- case: create_table_with_timestamp_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

create table app.users
(
    created_ts   timestamp
);
create table app.accounts
(
    created_ts timestamp without time zone
);

-- case: alter_table_with_timestamp_err
-- squawk: flags
-- expect: ok
-- rules: change-column-type lock-timeout statement-timeout

alter table app.users
    alter column created_ts type timestamp;
alter table app.accounts
    alter column created_ts type timestamp without time zone;

-- case: alter_table_with_time_zone_ok
-- squawk: ok
-- expect: ok
-- rules:

create table app.users
(
    created_ts   timestamptz
);
create table app.accounts
(
    created_ts timestamp with time zone
);

-- case: fix_timestamp_array
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

create table app.events
(
    timestamps timestamp[]
);
