-- expect:
SET lock_timeout = '5s';
CREATE TABLE audit (id bigint PRIMARY KEY);
