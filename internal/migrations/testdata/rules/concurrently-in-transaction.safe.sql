-- file: 20240102030405_users_email.sql
-- expect:
-- +goose NO TRANSACTION
-- +goose Up
CREATE INDEX CONCURRENTLY users_email ON users (email);
-- +goose Down
DROP INDEX CONCURRENTLY users_email;
