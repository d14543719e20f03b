-- expect:
-- +goose Up
-- +goose NO TRANSACTION
BEGIN;
CREATE TABLE audit (id bigint PRIMARY KEY);
COMMIT;
