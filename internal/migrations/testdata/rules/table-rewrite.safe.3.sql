-- expect:
CREATE TABLE fresh (id int);
CREATE TABLE fresher (id int);
VACUUM FULL fresh, fresher;
