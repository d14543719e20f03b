-- expect: attach-partition
SET lock_timeout = '5s';
SET statement_timeout = '5s';
ALTER TABLE events ATTACH PARTITION events_2024 FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
