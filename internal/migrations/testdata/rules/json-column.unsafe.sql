-- expect: json-column
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN settings json;
