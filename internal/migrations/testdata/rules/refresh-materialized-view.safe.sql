-- expect:
SET lock_timeout = '5s';
REFRESH MATERIALIZED VIEW CONCURRENTLY user_counts;
CREATE MATERIALIZED VIEW order_counts AS SELECT count(*) AS n FROM orders WITH NO DATA;
REFRESH MATERIALIZED VIEW order_counts;
