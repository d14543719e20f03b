-- expect: refresh-materialized-view
-- WITH NO DATA leaves the view unscannable: the running release's reads of
-- it fail until the next refresh.
SET lock_timeout = '5s';
SET statement_timeout = '5min';
REFRESH MATERIALIZED VIEW user_counts WITH NO DATA;
