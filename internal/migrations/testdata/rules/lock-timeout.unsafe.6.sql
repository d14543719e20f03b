-- expect: lock-timeout
CREATE DOMAIN email_address AS text;
