-- expect: syntax-needs-newer-postgres
-- postgres: 14
CREATE TABLE t (a int, CONSTRAINT t_a UNIQUE NULLS NOT DISTINCT (a));
CREATE UNIQUE INDEX CONCURRENTLY users_email ON users (email) NULLS NOT DISTINCT;
