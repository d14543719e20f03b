-- expect:
BEGIN;
CREATE TABLE audit (id bigint PRIMARY KEY);
COMMIT;
