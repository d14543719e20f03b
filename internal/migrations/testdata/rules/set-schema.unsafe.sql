-- expect: set-schema
-- The running release names the table users; once it moves, its queries
-- find no users in their search_path.
SET lock_timeout = '5s';
ALTER TABLE users SET SCHEMA archive;
