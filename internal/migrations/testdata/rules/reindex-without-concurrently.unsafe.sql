-- expect: lock-timeout reindex-without-concurrently statement-timeout
REINDEX INDEX users_email;
