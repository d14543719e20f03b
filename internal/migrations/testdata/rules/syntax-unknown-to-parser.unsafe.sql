-- expect: syntax-unknown-to-parser
SET lock_timeout = '5s';
REPACK (CONCURRENTLY) users;
CREATE TABLE audit (id bigint PRIMARY KEY);
