-- expect:
-- A DO block that is a plain list of SQL statements is checked like them.
DO $$
BEGIN
  CREATE TABLE audit_log (id bigint PRIMARY KEY, note text);
  CREATE INDEX audit_log_note ON audit_log (note);
END
$$;
