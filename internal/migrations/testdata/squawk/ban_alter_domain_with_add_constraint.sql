-- squawk rule ban-alter-domain-with-add-constraint (crates/squawk_linter/src/rules/ban_alter_domain_with_add_constraint.rs)

-- case: err
-- squawk: flags
-- expect: blocked
-- rules: domain-constraint lock-timeout statement-timeout

     ALTER DOMAIN domain_name ADD CONSTRAINT constraint_name CHECK (value > 0);

-- case: ok
-- squawk: ok
-- expect: blocked
-- rules: domain-constraint lock-timeout rename-object set-schema statement-timeout
-- differs: ALTER DOMAIN ... SET NOT NULL checks every column of the domain under SHARE (writes wait) exactly as ADD CONSTRAINT does; SET SCHEMA moves the domain out of the running release's search_path (a warning: columns of the domain follow it, casts to it by name do not); RENAME TO likewise leaves the running release's casts to the old name failing (a warning)

     ALTER DOMAIN domain_name_2 SET NOT NULL;
     ALTER DOMAIN domain_name_3 DROP CONSTRAINT other_domain_name;
     ALTER DOMAIN domain_name_4 RENAME CONSTRAINT constraint_name TO other_constraint_name;
     ALTER DOMAIN domain_name_5 RENAME TO other_domain_name;
     ALTER DOMAIN domain_name_6 VALIDATE CONSTRAINT constraint_name;
     ALTER DOMAIN domain_name_7 OWNER TO you;
     ALTER DOMAIN domain_name_8 SET SCHEMA foo;
