-- squawk rule prefer-bigint-over-int (crates/squawk_linter/src/rules/prefer_bigint_over_int.rs)

-- case: err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

create table users (
    id integer
);
create table users4 (
    id int4
);
create table users_serial (
    id serial
);
create table users_serial4 (
    id serial4
);

-- case: ok
-- squawk: ok
-- expect: ok
-- rules:

create table users (
    id bigint
);
create table users8 (
    id int8
);
create table users_bigserial (
    id bigserial
);
create table users_serial8 (
    id serial8
);
create table users_small (
    id smallint
);
create table users2 (
    id int2
);
create table users_smallserial (
    id smallserial
);
create table users_serial2 (
    id serial2
);
