-- expect:
-- A composite type created in the same change is used by no running
-- release; adding an attribute takes nothing away.
SET lock_timeout = '5s';
CREATE TYPE money_range AS (low numeric, high numeric, currency text);
ALTER TYPE money_range DROP ATTRIBUTE currency;
ALTER TYPE address ADD ATTRIBUTE country text;
