-- expect: rename-column
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text);
-- base: CREATE VIEW active_users AS SELECT id, email FROM users;
-- The view that reads users.email keeps working (PostgreSQL rewrites it and
-- its column keeps the name email): only the rename is reported, about
-- users, for the code that still names users.email.
SET lock_timeout = '5s';
ALTER TABLE users RENAME COLUMN email TO email_address;
