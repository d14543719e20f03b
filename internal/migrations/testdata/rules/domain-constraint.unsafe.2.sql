-- expect: domain-constraint
SET lock_timeout = '5s';
CREATE DOMAIN email_address AS text CHECK (VALUE LIKE '%@%');
