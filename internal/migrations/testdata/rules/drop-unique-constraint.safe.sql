-- expect:
-- base: CREATE TABLE users (id bigint PRIMARY KEY, age int CONSTRAINT users_age_check CHECK (age > 0));
-- A CHECK is no key; a key of a table new in the change has no users.
SET lock_timeout = '5s';
ALTER TABLE users DROP CONSTRAINT users_age_check;
CREATE TABLE accounts (id bigint PRIMARY KEY);
ALTER TABLE accounts DROP CONSTRAINT accounts_pkey;
