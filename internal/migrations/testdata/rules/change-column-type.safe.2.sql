-- expect:
-- base: CREATE TABLE events (id bigint PRIMARY KEY, at timestamp(0), seen timestamptz(3), took interval(0), flags bit varying(8), amount numeric(10,2));
-- Raising a timestamp's, interval's or numeric's precision (or removing
-- the limit), or a bit varying's length, only changes the catalog: no
-- rewrite (measured on PostgreSQL 15).
SET lock_timeout = '5s';
ALTER TABLE events ALTER COLUMN at TYPE timestamp(3);
ALTER TABLE events ALTER COLUMN seen TYPE timestamptz;
ALTER TABLE events ALTER COLUMN took TYPE interval(6);
ALTER TABLE events ALTER COLUMN flags TYPE bit varying(64);
ALTER TABLE events ALTER COLUMN amount TYPE numeric(14,2);
