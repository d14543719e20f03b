-- postgres: 11
-- expect:
ALTER TYPE mood ADD VALUE 'meh';
