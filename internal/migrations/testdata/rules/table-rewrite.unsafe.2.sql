-- expect: table-rewrite
-- VACUUM FULL rewrites every table it lists: a new one first hides none.
SET lock_timeout = '5s';
SET statement_timeout = '5s';
CREATE TABLE fresh (id int);
VACUUM FULL fresh, users;
