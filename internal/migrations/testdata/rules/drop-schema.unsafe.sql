-- expect: drop-schema
DROP SCHEMA reporting CASCADE;
DROP DATABASE old_reporting;
