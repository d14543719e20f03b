-- expect:
CREATE SCHEMA reporting_v2;
