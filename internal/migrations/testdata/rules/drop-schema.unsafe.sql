-- expect: drop-schema lock-timeout
DROP SCHEMA reporting CASCADE;
DROP DATABASE old_reporting;
