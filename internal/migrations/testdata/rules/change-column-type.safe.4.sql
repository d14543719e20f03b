-- expect:
-- base: CREATE TABLE users (id bigint, nickname varchar(50));
-- Django writes USING "col"::<type> on every type change: the same cast
-- PostgreSQL applies without USING, so raising the limit does not rewrite.
SET lock_timeout = '5s';
ALTER TABLE "users" ALTER COLUMN "nickname" TYPE varchar(200) USING "nickname"::varchar(200);
