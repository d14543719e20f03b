-- expect: add-not-null-column
-- DEFAULT NULL is no default: every existing row would hold NULL.
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN x int NOT NULL DEFAULT NULL;
