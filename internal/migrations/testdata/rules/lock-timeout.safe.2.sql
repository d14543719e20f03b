-- expect:
SET lock_timeout = '5s';
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TABLE events (id bigint PRIMARY KEY, mood mood);
