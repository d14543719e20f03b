-- expect: reindex-without-concurrently
REINDEX INDEX users_email;
