-- expect:
CREATE TABLE prefs (user_id bigint NOT NULL);
ALTER TABLE prefs ALTER COLUMN user_id DROP NOT NULL;
