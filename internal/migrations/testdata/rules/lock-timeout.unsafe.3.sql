-- expect: lock-timeout
LOCK TABLE users IN SHARE MODE;
