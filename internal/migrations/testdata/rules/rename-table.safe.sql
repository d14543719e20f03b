-- expect:
CREATE TABLE accounts_new (id bigint);
ALTER TABLE accounts_new RENAME TO accounts;
