-- expect:
-- Built-in functions are not bodies the migrations wrote.
SELECT set_config('app.region', 'eu', false);
SELECT pg_sleep(0);
