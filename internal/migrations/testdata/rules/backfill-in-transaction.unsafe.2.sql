-- expect: backfill-in-transaction
-- +goose Up
-- DISABLE TRIGGER takes SHARE ROW EXCLUSIVE: the table's writes wait until
-- the backfill commits.
SET lock_timeout = '5s';
SET statement_timeout = '5s';
ALTER TABLE users DISABLE TRIGGER users_audit;
UPDATE users SET plan = 'pro' WHERE paid;
