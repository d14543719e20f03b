-- expect:
-- golang-migrate would run both in one transaction: one per file in real life
CREATE UNIQUE INDEX CONCURRENTLY users_email_idx ON users (email);
