-- expect:
-- A function's or procedure's body runs only when it is called: creating
-- one is not reported.
CREATE FUNCTION purge_users() RETURNS void LANGUAGE sql AS $$ TRUNCATE users $$;
CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
CREATE PROCEDURE archive_users() LANGUAGE plpgsql AS $$ BEGIN DELETE FROM users WHERE false; END $$;
