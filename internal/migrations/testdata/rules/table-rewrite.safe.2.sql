-- expect:
-- FULL false is a plain VACUUM: no rewrite. (Plain SQL, so outside a transaction.)
VACUUM (FULL false, ANALYZE) users;
