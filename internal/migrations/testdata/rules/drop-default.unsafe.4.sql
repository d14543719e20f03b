-- expect: drop-default
-- base: CREATE TABLE orders (id bigint PRIMARY KEY, total numeric);
-- The column is added NOT NULL with a default that fills the existing rows,
-- and the default is dropped in the same change: the running release does
-- not know the column, so every INSERT it sends leaves it out and fails.
SET lock_timeout = '5s';
ALTER TABLE orders ADD COLUMN currency text NOT NULL DEFAULT 'EUR';
ALTER TABLE orders ALTER COLUMN currency DROP DEFAULT;
