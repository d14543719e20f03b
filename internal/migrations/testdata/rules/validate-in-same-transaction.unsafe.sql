-- expect: validate-in-same-transaction statement-timeout
-- file: 0007_orders_check.up.sql
-- golang-migrate sends the file in one piece: one transaction. The ACCESS
-- EXCLUSIVE lock of ADD CONSTRAINT is held through VALIDATE's scan.
SET lock_timeout = '5s';
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;
