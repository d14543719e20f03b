-- expect: body-not-checked
-- base: CREATE FUNCTION reset_quota() RETURNS void LANGUAGE sql AS $$ UPDATE accounts SET quota = 0 $$;
-- SELECT of a function the migrations define runs its body now, as CALL
-- runs a procedure's: not checked.
SELECT reset_quota();
