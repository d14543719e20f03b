-- expect: set-schema
SET lock_timeout = '5s';
ALTER VIEW active_users SET SCHEMA archive;
ALTER SEQUENCE IF EXISTS invoice_numbers SET SCHEMA billing;
