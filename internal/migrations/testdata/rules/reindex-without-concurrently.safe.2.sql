-- expect:
-- REINDEX (CONCURRENTLY true) is CONCURRENTLY.
SET lock_timeout = '5s';
REINDEX (CONCURRENTLY true) TABLE users;
