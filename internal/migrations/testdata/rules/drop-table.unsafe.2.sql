-- expect: drop-table
SET lock_timeout = '5s';
DROP VIEW active_users;
