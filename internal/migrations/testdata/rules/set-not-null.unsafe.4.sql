-- expect: set-not-null statement-timeout
-- base: CREATE TABLE users (id bigint PRIMARY KEY, age int);
-- base: ALTER TABLE users ADD CONSTRAINT users_age_pos CHECK (age > 0);
-- A CHECK passes when its expression is NULL: age > 0 does not prove age
-- NOT NULL.
SET lock_timeout = '5s';
ALTER TABLE users ALTER COLUMN age SET NOT NULL;
