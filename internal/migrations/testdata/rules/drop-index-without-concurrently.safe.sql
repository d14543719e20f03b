-- expect:
DROP INDEX CONCURRENTLY IF EXISTS users_email;
