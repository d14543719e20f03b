-- expect:
ALTER TYPE mood ADD VALUE 'unhappy';
