-- expect:
-- file: 0002_x.up.sql
-- golang-migrate: BEGIN turns the implicit transaction into an explicit
-- one, which the file commits.
BEGIN;
CREATE TABLE audit (id bigint PRIMARY KEY);
COMMIT;
