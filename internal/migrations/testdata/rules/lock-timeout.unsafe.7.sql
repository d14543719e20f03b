-- expect: lock-timeout
-- ALTER TYPE on a composite type takes ACCESS EXCLUSIVE on the type.
ALTER TYPE address ADD ATTRIBUTE zip text;
