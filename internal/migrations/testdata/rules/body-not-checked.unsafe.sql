-- expect: body-not-checked
-- PL/pgSQL that is more than a list of SQL statements is not read.
DO $$
DECLARE n bigint;
BEGIN
  SELECT count(*) INTO n FROM users;
  IF n = 0 THEN
    EXECUTE 'DROP TABLE users';
  END IF;
END $$;
