-- expect:
-- New objects take no lock the running release waits on.
CREATE TYPE mood AS ENUM ('sad', 'ok');
CREATE TABLE events (id bigint PRIMARY KEY, mood mood);
