-- expect:
-- +goose Up
-- goose's transaction holds the whole file: SET LOCAL lasts to its end.
SET LOCAL lock_timeout = '5s';
ALTER TABLE users ADD COLUMN x int;
