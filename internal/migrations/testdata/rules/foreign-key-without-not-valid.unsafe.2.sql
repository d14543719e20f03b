-- expect: foreign-key-without-not-valid statement-timeout
SET lock_timeout = '5s';
ALTER TABLE orders ADD COLUMN coupon_id bigint REFERENCES coupons (id);
