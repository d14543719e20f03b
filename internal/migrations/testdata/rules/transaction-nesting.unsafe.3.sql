-- expect: transaction-nesting
-- +goose Up
-- ROLLBACK undoes goose's transaction: the ALTER is gone, and goose still
-- records the migration as applied.
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN x int;
ROLLBACK;
