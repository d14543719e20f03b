-- expect: refresh-materialized-view
SET lock_timeout = '5s';
SET statement_timeout = '5min';
REFRESH MATERIALIZED VIEW user_counts;
