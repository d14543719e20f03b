-- expect: change-column-type statement-timeout
-- base: CREATE TABLE tags (id bigint PRIMARY KEY, label text);
-- base: CREATE INDEX tags_label_idx ON tags (label);
-- Same type, new collation: the table is kept, but the index on the column
-- is rebuilt (its sort order changes) under ACCESS EXCLUSIVE.
SET lock_timeout = '5s';
ALTER TABLE tags ALTER COLUMN label TYPE text COLLATE "C";
