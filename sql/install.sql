-- install: CREATE EXTENSION puts the functions in the current schema
-- (public) and the internal tables in schema reset_system.
CREATE EXTENSION reset_system;

SELECT n.nspname AS schema, p.proname AS function,
       pg_get_function_identity_arguments(p.oid) AS arguments
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'reset_system')
ORDER BY 2, 3;

SELECT c.relname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'reset_system' AND c.relkind IN ('r', 'S')
ORDER BY 1;

-- configuration and history are dumped by pg_dump
SELECT unnest(extconfig)::regclass AS dumped
FROM pg_extension WHERE extname = 'reset_system' ORDER BY 1;

-- every function has a comment
SELECT p.proname FROM pg_proc p
JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'reset_system')
  AND obj_description(p.oid, 'pg_proc') IS NULL;

-- settings and their defaults
SELECT name, setting, unit, context FROM pg_settings
WHERE name LIKE 'reset_system.%' ORDER BY name;

-- only a superuser may label the environment
CREATE ROLE rs_app_role LOGIN;
SET ROLE rs_app_role;
SET reset_system.environment = 'development';
RESET ROLE;
DROP ROLE rs_app_role;

-- unknown settings in our namespace are refused
SET reset_system.enviroment = 'typo';

-- label the test database (resets are refused in an unlabelled one)
SELECT format('ALTER DATABASE %I SET reset_system.environment = %L', current_database(), 'test') AS label_db \gset
:label_db;
\c
SHOW reset_system.environment;

-- Helpers for the following tests: the plan text with the parts that vary
-- from run to run (server address, system identifier, token, storage
-- directory) masked.
CREATE FUNCTION test_plan() RETURNS TABLE (line text) LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(line,
             '@ .*$', '@ <server>'),
             'system identifier [0-9]+', 'system identifier <sysid>'),
             '[0-9a-f]{16}', '<token>', 'g'),
             'directory /[^:]*media', 'directory <media>')
    FROM regexp_split_to_table(reset_plan(), E'\n') AS line
$$;
CREATE FUNCTION test_plan_estimate() RETURNS TABLE (line text) LANGUAGE sql AS $$
    SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(line,
             '@ .*$', '@ <server>'),
             'system identifier [0-9]+', 'system identifier <sysid>'),
             '[0-9a-f]{16}', '<token>', 'g'),
             'directory /[^:]*media', 'directory <media>')
    FROM regexp_split_to_table(reset_plan(estimate => true), E'\n') AS line
$$;
CREATE FUNCTION test_token() RETURNS text LANGUAGE sql AS $$
    SELECT reset_plan_json() ->> 'token'
$$;
-- the SQLSTATE and message of the error a statement raises
CREATE FUNCTION test_error(cmd text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE cmd;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- the whole error a statement raises (SQLSTATE, message, detail, hint),
-- with plan tokens masked
CREATE FUNCTION test_error_full(cmd text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE cmd;
    RETURN NEXT 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN NEXT 'SQLSTATE: ' || st;
    RETURN NEXT 'MESSAGE:  ' || msg;
    RETURN NEXT 'DETAIL:   ' || regexp_replace(det, '[0-9a-f]{16}', '<token>', 'g');
    RETURN NEXT 'HINT:     ' || hnt;
END
$$;

-- A storage directory for the tests, next to the temporary instance's data
-- directory (never inside it: that is refused).
SELECT regexp_replace(current_setting('data_directory'), '/[^/]+$', '') || '/media' AS media_dir \gset
SELECT 'mkdir -p ' || :'media_dir' || ' && cat >/dev/null' AS mkdir_media \gset
COPY (SELECT 1) TO PROGRAM :'mkdir_media';
SELECT reset_configure_storage('file', jsonb_build_object('root', :'media_dir')) = 'directory ' || :'media_dir' AS storage_configured;

-- wait until earlier tests' purges are finished, then empty the queue, so
-- a test sees only its own queue rows
CREATE FUNCTION test_purge_settle() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1..600 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM reset_system.purge_queue WHERE state = 'pending');
        PERFORM pg_sleep(0.1);
    END LOOP;
    DELETE FROM reset_system.purge_queue;
END
$$;
