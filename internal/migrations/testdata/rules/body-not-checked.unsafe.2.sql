-- expect: body-not-checked
-- CALL runs the procedure's body during the migration: not checked.
CALL purge_inactive_users();
