-- expect:
-- base: CREATE TABLE distributors (dist_id int CONSTRAINT distributors_pkey PRIMARY KEY, address text);
-- The key is swapped in one statement for one on the same column, built
-- beforehand: ON CONFLICT (dist_id) keeps working throughout.
SET lock_timeout = '5s';
CREATE UNIQUE INDEX CONCURRENTLY dist_id_temp_idx ON distributors (dist_id);
ALTER TABLE distributors DROP CONSTRAINT distributors_pkey,
  ADD CONSTRAINT distributors_pkey PRIMARY KEY USING INDEX dist_id_temp_idx;
