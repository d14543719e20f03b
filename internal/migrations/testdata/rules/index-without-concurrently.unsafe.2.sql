-- expect: index-without-concurrently lock-timeout statement-timeout
CREATE UNIQUE INDEX users_handle ON users (lower(handle));
