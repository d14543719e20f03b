-- squawk rule ban-char-field (crates/squawk_linter/src/rules/ban_char_field.rs)

-- case: creating_table_with_char_errors
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

CREATE TABLE "core_bar" (
    "id" serial NOT NULL PRIMARY KEY,
    "alpha" char(100) NOT NULL,
    "beta" character(100) NOT NULL,
    "charlie" char NOT NULL,
    "delta" character NOT NULL
);

-- case: creating_table_with_var_char_and_text_okay
-- squawk: ok
-- expect: ok
-- rules:

CREATE TABLE "core_bar" (
    "id" serial NOT NULL PRIMARY KEY,
    "alpha" varchar(100) NOT NULL,
    "beta" text NOT NULL
);

-- case: all_the_types
-- squawk: flags
-- expect: invalid
-- rules:

create table t (
    a serial not null primary key,
    b char(100),
    c character(100),
    d char,
    e character,
    f double precision,
    g time with time zone,
    h interval,
    j int[5][10],
    k bar(10),
    l bit varying,
    m int array[],
    o pg_catalog.char,
    p char[]
);

-- case: array_char_type_err
-- squawk: flags
-- expect: ok
-- rules:
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

create table t (
  a char[]
);

-- case: alter_table_err
-- squawk: flags
-- expect: ok
-- rules: lock-timeout
-- differs: squawk's style rule, which pmguard leaves to linters: the statement neither breaks the running release nor takes a lock that blocks it

alter table t add column c char;
