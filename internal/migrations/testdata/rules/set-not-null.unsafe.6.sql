-- expect: set-not-null statement-timeout
-- A column added without a default is NULL in every row: the CHECK that
-- would prove it NOT NULL fails to validate, and so does SET NOT NULL.
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN score bigint;
ALTER TABLE users ADD CONSTRAINT users_score_nn CHECK (score IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_score_nn;
ALTER TABLE users ALTER COLUMN score SET NOT NULL;
