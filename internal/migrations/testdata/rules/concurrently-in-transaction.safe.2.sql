-- file: 20240102030405_users_email.sql
-- expect:
-- migrate:up transaction:false
CREATE INDEX CONCURRENTLY users_email ON users (email);
-- migrate:down
DROP INDEX users_email;
