-- expect: lock-timeout rename-schema
ALTER SCHEMA billing RENAME TO invoicing;
