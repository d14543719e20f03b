-- expect:
-- +goose Up
-- SET STATISTICS, and INHERITS on an existing parent, take SHARE UPDATE
-- EXCLUSIVE: writes go on.
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN plan SET STATISTICS 500;
CREATE TABLE users_archive () INHERITS (users);
UPDATE users SET plan = 'pro' WHERE paid;
