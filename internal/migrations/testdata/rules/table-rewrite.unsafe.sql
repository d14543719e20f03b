-- expect: statement-timeout table-rewrite
SET lock_timeout = '5s';
VACUUM FULL users;
CLUSTER users USING users_pkey;
ALTER TABLE users SET LOGGED;
ALTER TABLE users ADD COLUMN email_lower text GENERATED ALWAYS AS (lower(email)) STORED;
