-- expect: domain-constraint
SET lock_timeout = '5s';
SET statement_timeout = '30s';
-- SET NOT NULL checks every column of the domain, like ADD CONSTRAINT.
ALTER DOMAIN positive_amount SET NOT NULL;
