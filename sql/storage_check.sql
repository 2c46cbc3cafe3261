-- storage_check: the live storage check (run by a background worker, never
-- by the backend), the cloud backends' option checks, credentials kept from
-- other roles, and reset_seed_object for rebuild steps.
SELECT test_purge_settle();
SELECT store.fingerprint() AS before \gset
SELECT regexp_replace(current_setting('data_directory'), '/[^/]+$', '') || '/media' AS media_dir \gset

-- the file backend: the directory exists and the server can write in it
SELECT check_name, ok, regexp_replace(detail, '/\S*media', '<media>') AS detail,
       checked_at BETWEEN now() - interval '1 minute' AND clock_timestamp() AS just_now
FROM reset_storage_check();
-- the answer is kept for plans
SELECT check_name, ok FROM reset_system.storage_checks ORDER BY id DESC LIMIT 3;

\set VERBOSITY terse
-- cloud backends: every option is checked when it is set
SELECT reset_configure_storage('s3', '{}');
SELECT reset_configure_storage('s3', '{"bucket": "Bad_Bucket"}');
SELECT reset_configure_storage('s3', '{"bucket": "ok-bucket", "endpoint": "ftp://x"}');
SELECT reset_configure_storage('s3', '{"bucket": "ok-bucket", "endpoint": "https://key:secret@x"}');
SELECT reset_configure_storage('s3', '{"bucket": "ok-bucket", "path_style": "yes"}');
SELECT reset_configure_storage('s3', '{"bucket": "ok-bucket", "region": "EU WEST"}');
-- credentials are never options
SELECT reset_configure_storage('s3', '{"bucket": "ok-bucket", "secret_access_key": "x"}');
SELECT reset_configure_storage('gcs', '{}');
SELECT reset_configure_storage('gcs', '{"bucket": "ok-bucket", "batch": "yes"}');
SELECT reset_configure_storage('gcs', '{"bucket": "ok-bucket", "prefix_root": "../up/"}');
SELECT reset_configure_storage('gcs', '{"bucket": "ok-bucket", "token": "x"}');
SELECT reset_configure_storage('http', '{}');
SELECT reset_configure_storage('http', '{"base_url": "ftp://files/"}');
SELECT reset_configure_storage('http', '{"base_url": "http://user:pw@files/"}');
SELECT reset_configure_storage('http', '{"base_url": "http://files/?x=1"}');
\set VERBOSITY default

-- valid configurations describe their location
SELECT reset_configure_storage('gcs', '{"bucket": "app-uploads", "prefix_root": "prod/", "endpoint": "http://127.0.0.1:9", "batch": true}');
SELECT reset_configure_storage('http', '{"base_url": "http://127.0.0.1:9/dav"}');

-- a server that is not there: the check says so, in its own words
SELECT reset_configure_storage('s3', '{"bucket": "ok-bucket", "endpoint": "http://127.0.0.1:9", "path_style": true}');
SELECT check_name, ok, regexp_replace(detail, 'http://127.0.0.1:9: .*', 'http://127.0.0.1:9: <connection error>') AS detail
FROM reset_storage_check();
-- and so does the plan, as a warning (a plan's check is reused by plans
-- with the same token for a while)
SELECT line FROM test_plan() WHERE line ~ 'Storage check|127.0.0.1';
SELECT w ~ '^storage check "reachable" failed' AS warned, p -> 'storage_check' ->> 'cached' AS cached
FROM reset_plan_json() p, jsonb_array_elements_text(p -> 'warnings') w;
-- reset_system.storage_check_cache = -1 leaves the check out of plans
SET reset_system.storage_check_cache = -1;
SELECT reset_plan_json() -> 'storage_check' AS storage_check;
RESET reset_system.storage_check_cache;

-- credentials: a missing file is reported by name, never by content
ALTER SYSTEM SET reset_system.s3_credentials_file = '/nonexistent/s3-credentials';
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SELECT reset_configure_storage('s3', '{"bucket": "ok-bucket", "endpoint": "http://127.0.0.1:9", "path_style": true}');
SELECT check_name, ok, regexp_replace(detail, 'http://127.0.0.1:9: .*', 'http://127.0.0.1:9: <connection error>') AS detail
FROM reset_storage_check();

-- the settings that name credentials are hidden from other roles
CREATE ROLE rs_peeker;
SET ROLE rs_peeker;
-- (refused with insufficient_privilege; the server's words changed in 16)
DO $$
BEGIN
    EXECUTE 'SHOW reset_system.s3_credentials_file';
    RAISE NOTICE 'shown';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'SHOW reset_system.s3_credentials_file refused (insufficient_privilege)';
END $$;
SELECT count(*) AS visible FROM pg_settings
WHERE name IN ('reset_system.s3_credentials_file', 'reset_system.gcs_token_file',
               'reset_system.gcs_token_command', 'reset_system.http_authorization_file',
               'reset_system.azure_sas_token_file', 'reset_system.azure_shared_key_file');
RESET ROLE;
DROP ROLE rs_peeker;
ALTER SYSTEM RESET reset_system.s3_credentials_file;
SELECT pg_reload_conf();

-- no storage configured: a clear error
SELECT reset_configure_storage('none');
SELECT reset_storage_check();
SELECT reset_configure_storage('file', jsonb_build_object('root', :'media_dir')) IS NOT NULL AS configured;

-- reset_seed_object: only from a rebuild step of a reset
SELECT reset_seed_object('img/logo.png', '/tmp/logo.png');

SELECT regexp_replace(current_setting('data_directory'), '/[^/]+$', '') || '/seed-logo.png' AS seed_file \gset
COPY (SELECT 'logo bytes') TO :'seed_file';

-- every bad call fails the reset, which changes nothing
CREATE FUNCTION test_seed_error(key text, path text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM reset_register_rebuild('seed', format('SELECT reset_seed_object(%L, %L)', key, path));
    RETURN regexp_replace(test_error('SELECT reset_execute(''RESET-EVERYTHING'')'), '"/[^"]*"', '"<path>"', 'g');
END
$$;
SET client_min_messages = warning;
SELECT test_seed_error('../logo.png', :'seed_file');
SELECT test_seed_error('img/logo.png', 'seed/logo.png');
SELECT test_seed_error('img/logo.png', '/nonexistent/logo.png');
SELECT test_seed_error('img/logo.png', regexp_replace(:'seed_file', '/[^/]+$', ''));
RESET client_min_messages;
SELECT store.fingerprint() = :'before' AS unchanged;
SELECT count(*) AS queue_rows FROM reset_system.purge_queue;

-- the role a step runs as must be allowed to read server files
CREATE ROLE rs_seeder;
GRANT EXECUTE ON FUNCTION reset_register_rebuild(text, text, boolean, text), reset_seed_object(text, text) TO rs_seeder;
-- (its re-registration NOTICE would print this server's directory)
SET client_min_messages = warning;
SET ROLE rs_seeder;
SELECT reset_register_rebuild('seed', format('SELECT reset_seed_object(%L, %L)', 'img/logo.png', :'seed_file'));
RESET ROLE;
SELECT kind, label, run_as FROM reset_config() WHERE label = 'seed';
SET client_min_messages = warning;
SELECT regexp_replace(test_error('SELECT reset_execute(''RESET-EVERYTHING'')'), '"/[^"]*"', '"<path>"', 'g') AS error;
RESET client_min_messages;
SELECT store.fingerprint() = :'before' AS unchanged;

-- a good seed: queued with the reset, uploaded after its purge, and a key
-- the reset would purge (img/p3.png) is kept out of the purge (the
-- NOTICE of the replaced step would show the test's temporary path)
SET client_min_messages = warning;
SELECT reset_register_rebuild('seed', format(
    'SELECT count(reset_seed_object(k, %L)) FROM unnest(ARRAY[%L, %L]) k',
    :'seed_file', 'branding/logo.png', 'img/p3.png'));
RESET client_min_messages;
BEGIN;
SELECT line FROM regexp_split_to_table(reset_execute('RESET-EVERYTHING'), E'\n') line
WHERE line ~ 'seed|Queued';
SELECT kind, key, state FROM reset_system.purge_queue ORDER BY kind, key;
COMMIT;
SELECT reset_purge_wait('60 seconds');
SELECT kind, key, state, outcome FROM reset_system.purge_queue ORDER BY kind, key;
SELECT pg_read_file(:'media_dir' || '/branding/logo.png') AS uploaded,
       pg_read_file(:'media_dir' || '/img/p3.png') AS reseeded;

SELECT reset_unregister_rebuild('seed');
DROP FUNCTION test_seed_error(text, text);
DROP OWNED BY rs_seeder;
DROP ROLE rs_seeder;
DO $$ BEGIN PERFORM store.refill(); END $$;
