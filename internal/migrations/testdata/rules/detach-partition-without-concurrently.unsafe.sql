-- expect: detach-partition-without-concurrently
-- postgres: 14
SET lock_timeout = '5s';
ALTER TABLE measurements DETACH PARTITION measurements_2020;
