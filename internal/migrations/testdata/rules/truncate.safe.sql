-- expect:
CREATE TABLE staging (id bigint);
TRUNCATE staging;
