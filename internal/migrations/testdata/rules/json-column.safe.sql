-- expect:
SET lock_timeout = '5s';
ALTER TABLE users ADD COLUMN settings jsonb;
CREATE TABLE raw_payloads (id bigint PRIMARY KEY, body json);
