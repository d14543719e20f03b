-- expect: check-without-not-valid statement-timeout
-- A CHECK written on ADD COLUMN is validated like any other: PostgreSQL
-- scans every existing row under ACCESS EXCLUSIVE (it logs "verifying
-- table"), even though the new column holds NULL or its default in each.
SET lock_timeout = '5s';
ALTER TABLE invoices ADD COLUMN discount_pct int DEFAULT 0 CHECK (discount_pct BETWEEN 0 AND 100);
