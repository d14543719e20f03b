-- expect: uncommitted-transaction
BEGIN;
CREATE TABLE audit (id bigint PRIMARY KEY);
