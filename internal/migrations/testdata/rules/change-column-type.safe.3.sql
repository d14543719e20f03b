-- expect:
-- base: CREATE TABLE tags (id bigint PRIMARY KEY, label varchar(40) COLLATE "C", note text);
-- base: CREATE INDEX tags_label_idx ON tags (label);
-- A longer limit in the same collation keeps the index; a new collation on
-- a column no index has changes only the catalog.
SET lock_timeout = '5s';
ALTER TABLE tags ALTER COLUMN label TYPE varchar(80) COLLATE "C";
ALTER TABLE tags ALTER COLUMN note TYPE text COLLATE "C";
