-- expect:
-- base: SET search_path = app;
-- base: CREATE TABLE accounts (id bigint PRIMARY KEY, email text NOT NULL);
-- The deployed schema's accounts is app.accounts (its migration set
-- search_path); named qualified here, its NOT NULL column is known.
SET lock_timeout = '5s';
ALTER TABLE app.accounts ALTER COLUMN email SET NOT NULL;
