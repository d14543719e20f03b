-- expect: foreign-key-without-not-valid statement-timeout
-- The statements of a DO block with EXCEPTION ... THEN NULL handlers are
-- checked like plain ones.
SET lock_timeout = '5s';
DO $$ BEGIN
 ALTER TABLE "emails" ADD CONSTRAINT "emails_user_id_fk" FOREIGN KEY ("user_id") REFERENCES "users"("id");
EXCEPTION
 WHEN duplicate_object OR SQLSTATE '42710' THEN null;
END $$;
