-- expect: transaction-nesting
-- +goose Up
BEGIN;
CREATE TABLE audit (id bigint PRIMARY KEY);
COMMIT;
