-- expect: body-not-checked
-- A function's body runs when it is called: not checked.
CREATE FUNCTION purge_users() RETURNS void LANGUAGE sql AS $$ TRUNCATE users $$;
