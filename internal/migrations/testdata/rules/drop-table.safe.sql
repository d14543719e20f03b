-- expect:
CREATE TABLE tmp_import (id bigint);
DROP TABLE tmp_import;
