-- expect:
-- postgres: 12
SET lock_timeout = '5s';
REINDEX INDEX CONCURRENTLY users_email;
