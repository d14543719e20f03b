-- expect: syntax-needs-newer-postgres
-- postgres: 11
SET lock_timeout = '5s';
REINDEX INDEX CONCURRENTLY users_email;
