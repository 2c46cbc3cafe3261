-- privileges: nothing is callable by PUBLIC; reset_grant_operator grants
-- what an operator needs; a reset runs with the operator's own rights on
-- the application's tables; and a hostile search_path cannot change what
-- a reset does.
SELECT p.oid::regprocedure AS function_executable_by_public
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'reset_system')
  AND EXISTS (SELECT FROM aclexplode(COALESCE(p.proacl, acldefault('f', p.proowner))) a
              WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE');
SELECT c.oid::regclass AS internal_table_readable_by_public
FROM pg_class c WHERE c.relnamespace = 'reset_system'::regnamespace
  AND has_table_privilege('public', c.oid, 'SELECT') IS TRUE
  AND EXISTS (SELECT FROM aclexplode(c.relacl) a WHERE a.grantee = 0);

CREATE ROLE rs_nobody;
CREATE ROLE rs_operator;
GRANT USAGE ON SCHEMA store TO rs_nobody, rs_operator;

-- an ungranted role: permission denied
SET ROLE rs_nobody;
SELECT reset_plan();
SELECT reset_execute('RESET-EVERYTHING');
SELECT reset_unlock();
SELECT * FROM reset_history();
SELECT * FROM reset_system.history;
RESET ROLE;

-- the helper grants EXECUTE, and says what is still missing on the tables
SELECT * FROM reset_grant_operator('rs_operator');
SET ROLE rs_operator;
SELECT reset_unlock();
SELECT reset_register_table('store.coupons', 'preserve');
-- may call the functions, but lacks privileges on the registered tables
SELECT reset_plan();
SELECT reset_execute('RESET-EVERYTHING');
RESET ROLE;

-- with SELECT and TRUNCATE but not owning the sequences: still refused
GRANT SELECT, TRUNCATE, DELETE ON ALL TABLES IN SCHEMA store TO rs_operator;
SET ROLE rs_operator;
SELECT reset_plan() IS NOT NULL AS can_plan;
SELECT reset_execute('RESET-EVERYTHING');
RESET ROLE;
SELECT store.fingerprint() AS before \gset

-- the application's owner role is the natural operator
CREATE ROLE rs_app_owner;
GRANT USAGE ON SCHEMA store TO rs_app_owner;
ALTER TABLE store.accounts OWNER TO rs_app_owner;
ALTER TABLE store.products OWNER TO rs_app_owner;
ALTER TABLE store.orders OWNER TO rs_app_owner;
ALTER TABLE store.order_items OWNER TO rs_app_owner;
ALTER TABLE store.coupons OWNER TO rs_app_owner;
SELECT * FROM reset_grant_operator('rs_app_owner', can_unlock => true, can_configure => true);
SET ROLE rs_app_owner;
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Reset done; it takes effect when this transaction commits.$' AS ran;
SELECT role_name, outcome FROM reset_history() LIMIT 1;
ROLLBACK;
-- the internal tables stay out of reach, even for an operator
SELECT count(*) FROM reset_system.history;
INSERT INTO reset_system.history (id) VALUES (999);
-- and storage stays with superusers
SELECT reset_configure_storage('none');
RESET ROLE;

-- a rebuild step runs as the role that registered it, not as the caller:
-- a role allowed to register steps cannot make a superuser run its SQL
SET ROLE rs_app_owner;
SELECT reset_register_rebuild('who am i', $step$DO $do$ BEGIN
    IF current_user <> 'rs_app_owner' OR session_user <> 'postgres' THEN
        RAISE EXCEPTION 'ran as %, not as its registrant', current_user;
    END IF; END $do$$step$);
SELECT reset_register_rebuild('escalate', 'ALTER ROLE rs_app_owner SUPERUSER');
RESET ROLE;
-- the step is refused for lack of privilege (the server's words for it
-- changed in 16; the SQLSTATE and the context did not)
DO $$
DECLARE
    ctx text;
BEGIN
    PERFORM reset_execute('RESET-EVERYTHING');
EXCEPTION WHEN insufficient_privilege THEN
    GET STACKED DIAGNOSTICS ctx = PG_EXCEPTION_CONTEXT;
    RAISE NOTICE 'refused (insufficient_privilege): %', array_to_string((string_to_array(ctx, E'\n'))[1:2], ' / ');
END $$;
SELECT rolsuper FROM pg_roles WHERE rolname = 'rs_app_owner';
SELECT reset_unregister_rebuild('escalate');
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Rebuild "who am i": ran' AS ran_as_registrant;
ROLLBACK;
SELECT reset_unregister_rebuild('who am i');

-- a hostile search_path: functions and operators named like built-ins,
-- and a table named like an internal one, in a schema searched first
CREATE SCHEMA evil;
CREATE FUNCTION evil.count(anyelement) RETURNS bigint LANGUAGE sql AS 'SELECT 0::bigint';
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE sql AS $$SELECT '2000-01-01'::timestamptz$$;
CREATE FUNCTION evil.textne(text, text) RETURNS boolean LANGUAGE sql AS 'SELECT false';
CREATE OPERATOR evil.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.textne);
CREATE TABLE evil.registered_tables (tbl regclass, action text);
CREATE TABLE evil.history (id bigint);
SET search_path = evil, public, pg_catalog;
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Deleted 40 order row' AS reset_unaffected;
SELECT pg_catalog.count(*) AS orders_left FROM store.orders;
SELECT pg_catalog.count(*) AS evil_history_rows FROM evil.history;
SELECT started_at > '2020-01-01' AS real_clock FROM reset_system.history ORDER BY id DESC LIMIT 1;
ROLLBACK;
RESET search_path;
DROP SCHEMA evil CASCADE;

SELECT store.fingerprint() = :'before' AS unchanged;
SET client_min_messages = warning;
REASSIGN OWNED BY rs_app_owner TO postgres;
DROP OWNED BY rs_nobody, rs_operator, rs_app_owner;
DROP ROLE rs_nobody, rs_operator, rs_app_owner;
RESET client_min_messages;
