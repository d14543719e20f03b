-- expect: index-without-concurrently
CREATE INDEX users_email ON users (email);
