-- rebuild_roles: a rebuild step runs as the role that registered it.  If
-- that role was renamed or dropped, the plan shows a blocker whose fix is
-- the exact registration to run again; running it clears the blocker.
SELECT store.fingerprint() AS before \gset
CREATE ROLE rs_builder;
GRANT USAGE ON SCHEMA store TO rs_builder;
GRANT INSERT ON store.coupons TO rs_builder;
GRANT USAGE ON SEQUENCE store.coupons_id_seq TO rs_builder;
GRANT EXECUTE ON FUNCTION reset_register_rebuild(text, text, boolean, text) TO rs_builder;
SET ROLE rs_builder;
SELECT reset_register_rebuild('welcome coupon', $$INSERT INTO store.coupons (code) VALUES ('it''s here')$$);
RESET ROLE;
SELECT * FROM test_plan() WHERE line ~ 'welcome|^Blockers';

-- renamed: blocked at plan time, never failing halfway through a reset
ALTER ROLE rs_builder RENAME TO rs_builder_renamed;
SELECT * FROM test_plan() WHERE line ~ 'welcome|^Blockers|^  - |^    Fix';
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SELECT store.fingerprint() = :'before' AS unchanged;
-- the fix, run as the role the step should run as
SELECT substring(p->'blockers'->>0 from 'SELECT reset_register_rebuild\(.*\);$') AS fix
FROM reset_plan_json() p \gset
SET ROLE rs_builder_renamed;
:fix
RESET ROLE;
SELECT * FROM test_plan() WHERE line ~ 'welcome|^Blockers';
BEGIN;
SELECT line FROM regexp_split_to_table(reset_execute('RESET-EVERYTHING'), E'\n') line WHERE line ~ 'welcome';
SELECT code FROM store.coupons;
ROLLBACK;

-- dropped: the same, and a superuser may take the step over
REVOKE ALL ON store.coupons FROM rs_builder_renamed;
REVOKE ALL ON SEQUENCE store.coupons_id_seq FROM rs_builder_renamed;
REVOKE ALL ON SCHEMA store FROM rs_builder_renamed;
REVOKE ALL ON FUNCTION reset_register_rebuild(text, text, boolean, text) FROM rs_builder_renamed;
DROP ROLE rs_builder_renamed;
SELECT * FROM test_plan() WHERE line ~ '^  - |^    Fix';
SELECT substring(p->'blockers'->>0 from 'SELECT reset_register_rebuild\(.*\);$') AS fix
FROM reset_plan_json() p \gset
:fix
SELECT * FROM test_plan() WHERE line ~ 'welcome|^Blockers';

SELECT reset_unregister_rebuild('welcome coupon');
SELECT store.fingerprint() = :'before' AS unchanged;
