-- expect:
-- The same column, set by an UPDATE before the check is validated: the
-- validated check proves it NOT NULL and SET NOT NULL does not scan.
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN score bigint;
UPDATE users SET score = 0;
ALTER TABLE users ADD CONSTRAINT users_score_nn CHECK (score IS NOT NULL) NOT VALID;
ALTER TABLE users VALIDATE CONSTRAINT users_score_nn;
ALTER TABLE users ALTER COLUMN score SET NOT NULL;
