-- expect: index-without-concurrently lock-timeout statement-timeout
CREATE INDEX users_email ON users (email);
