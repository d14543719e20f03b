-- expect: statement-timeout volatile-default
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();
