-- expect: transaction-nesting
-- +goose Up
-- COMMIT ends goose's transaction: the index is built outside any
-- transaction (no concurrently-in-transaction), and goose's own COMMIT at
-- the end commits the BEGIN (no uncommitted-transaction); the COMMIT is
-- what is wrong.
COMMIT;
CREATE INDEX CONCURRENTLY users_email ON users (email);
BEGIN;
