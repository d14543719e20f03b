-- expect: add-unique-constraint statement-timeout
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN handle text UNIQUE;
