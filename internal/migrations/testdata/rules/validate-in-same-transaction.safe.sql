-- expect:
-- Plain SQL: each statement commits on its own, so VALIDATE takes only
-- SHARE UPDATE EXCLUSIVE.
SET lock_timeout = '5s';
ALTER TABLE orders ADD CONSTRAINT orders_amount_positive CHECK (amount > 0) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT orders_amount_positive;
