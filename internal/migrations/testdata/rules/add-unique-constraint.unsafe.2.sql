-- expect: add-unique-constraint
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN handle text UNIQUE;
