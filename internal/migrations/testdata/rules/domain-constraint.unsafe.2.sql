-- expect: domain-constraint
CREATE DOMAIN email_address AS text CHECK (VALUE LIKE '%@%');
