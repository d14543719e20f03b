-- expect: drop-index-without-concurrently lock-timeout
DROP INDEX users_email;
