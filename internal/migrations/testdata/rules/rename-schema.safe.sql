-- expect:
CREATE SCHEMA invoicing;
