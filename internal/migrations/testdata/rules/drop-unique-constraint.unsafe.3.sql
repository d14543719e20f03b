-- expect: drop-unique-constraint add-primary-key
-- base: CREATE TABLE users (id bigint, tenant bigint, CONSTRAINT users_pkey PRIMARY KEY (id));
-- The new key has other columns: ON CONFLICT (id) no longer finds one.
SET lock_timeout = '5s';
SET statement_timeout = '5s';
ALTER TABLE users DROP CONSTRAINT users_pkey, ADD CONSTRAINT users_pkey PRIMARY KEY (tenant, id);
