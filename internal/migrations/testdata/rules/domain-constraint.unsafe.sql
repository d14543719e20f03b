-- expect: domain-constraint lock-timeout statement-timeout
ALTER DOMAIN positive_amount ADD CONSTRAINT positive CHECK (VALUE > 0);
