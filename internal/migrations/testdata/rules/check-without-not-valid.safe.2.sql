-- expect:
-- The column first, its check NOT VALID in the same file, validated in a
-- migration of its own; a CHECK on a column of a table created in the
-- change is not reported.
SET lock_timeout = '5s';
ALTER TABLE invoices ADD COLUMN discount_pct int DEFAULT 0;
ALTER TABLE invoices ADD CONSTRAINT invoices_discount_range CHECK (discount_pct BETWEEN 0 AND 100) NOT VALID;
CREATE TABLE coupons (id bigint PRIMARY KEY);
ALTER TABLE coupons ADD COLUMN pct int CHECK (pct > 0);
