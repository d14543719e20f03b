-- expect: rename-enum-value
SET lock_timeout = '5s';
ALTER TYPE mood RENAME VALUE 'sad' TO 'unhappy';
