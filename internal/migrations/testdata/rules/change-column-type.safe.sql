-- expect:
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN id_new bigint;
ALTER TABLE users ALTER COLUMN id_new TYPE numeric;
