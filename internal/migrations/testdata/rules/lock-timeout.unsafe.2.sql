-- expect: lock-timeout
-- COMMENT ON takes SHARE UPDATE EXCLUSIVE and queues behind long transactions;
-- lock_timeout = 0 turns the limit off.
SET lock_timeout = 0;
COMMENT ON TABLE users IS 'people';
