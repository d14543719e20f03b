-- expect:
-- CREATE TABLE AS, SELECT INTO and CREATE MATERIALIZED VIEW create new
-- relations: no running release uses them yet.
CREATE TABLE users_copy AS SELECT * FROM users;
CREATE INDEX users_copy_email ON users_copy (email);
SELECT id, email INTO users_emails FROM users;
CREATE INDEX users_emails_email ON users_emails (email);
CREATE MATERIALIZED VIEW user_counts AS SELECT count(*) AS n FROM users;
CREATE UNIQUE INDEX user_counts_n ON user_counts (n);
