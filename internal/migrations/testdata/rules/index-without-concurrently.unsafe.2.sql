-- expect: index-without-concurrently
CREATE UNIQUE INDEX users_handle ON users (lower(handle));
