-- expect: reindex-without-concurrently statement-timeout
-- The option's value counts: CONCURRENTLY false is a plain REINDEX.
SET lock_timeout = '5s';
REINDEX (CONCURRENTLY false) TABLE users;
