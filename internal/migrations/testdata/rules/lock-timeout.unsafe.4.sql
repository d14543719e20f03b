-- expect: lock-timeout
-- New types lock no existing table, but CREATE TYPE still waits, without
-- limit, for an open transaction that creates the same name.
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TABLE events (id bigint PRIMARY KEY, mood mood);
