-- expect: lock-timeout
-- ADD VALUE takes EXCLUSIVE on the type until COMMIT.
ALTER TYPE mood ADD VALUE 'meh';
