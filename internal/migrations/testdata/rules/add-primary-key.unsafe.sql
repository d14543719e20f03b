-- expect: add-primary-key
SET lock_timeout = '5s';
ALTER TABLE events ADD PRIMARY KEY (id);
