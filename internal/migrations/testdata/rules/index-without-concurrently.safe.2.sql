-- expect:
-- a table created in the same change has no rows and no readers yet
CREATE TABLE audit (id bigint, at timestamptz);
CREATE INDEX audit_at ON audit (at);
