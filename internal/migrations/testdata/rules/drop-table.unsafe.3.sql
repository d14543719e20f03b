-- expect: drop-table
-- base: CREATE TABLE users (id bigint PRIMARY KEY, email text);
-- base: CREATE VIEW active_users AS SELECT id, email FROM users;
-- In a plain SQL file each statement commits on its own: between the DROP
-- and the CREATE the view does not exist.
SET lock_timeout = '5s';
DROP VIEW active_users;
CREATE VIEW active_users AS SELECT id, email FROM users;
