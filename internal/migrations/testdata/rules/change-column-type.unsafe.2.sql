-- expect: change-column-type statement-timeout
-- A column added earlier in the same change is not exempt: the type change still rewrites every row of users.
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN id_new bigint;
ALTER TABLE users ALTER COLUMN id_new TYPE numeric;
