-- expect: drop-index-without-concurrently
DROP INDEX users_email;
