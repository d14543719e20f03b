-- expect:
-- Objects created earlier in the change have no users yet.
CREATE TABLE staging_users (id bigint);
ALTER TABLE staging_users SET SCHEMA archive;
CREATE SEQUENCE batch_numbers;
ALTER SEQUENCE batch_numbers SET SCHEMA archive;
