-- expect:
-- file: 000002_views.up.sql
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text);
-- base: CREATE VIEW active_users AS SELECT id, email FROM users;
-- Dropped and created again with the same columns in one transaction
-- (golang-migrate's), the view is replaced: the running release sees the
-- old one or the new one, never none.
SET lock_timeout = '5s';
DROP VIEW active_users;
CREATE VIEW active_users AS SELECT id, lower(email) AS email FROM users;
