-- expect: add-primary-key statement-timeout
SET lock_timeout = '5s';
ALTER TABLE events ADD PRIMARY KEY (id);
