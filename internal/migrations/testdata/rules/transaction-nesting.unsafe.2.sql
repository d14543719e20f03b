-- expect: transaction-nesting
BEGIN;
CREATE TABLE audit (id bigint PRIMARY KEY);
BEGIN;
CREATE TABLE audit2 (id bigint PRIMARY KEY);
COMMIT;
