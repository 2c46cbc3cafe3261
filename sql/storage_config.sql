-- storage_config: configuring the storage backend and purged prefixes;
-- every option is checked when it is set.
SELECT regexp_replace(current_setting('data_directory'), '/[^/]+$', '') || '/media' AS media_dir \gset
\set VERBOSITY terse

-- bad backends and options
SELECT reset_configure_storage(NULL);
SELECT reset_configure_storage('ftp');
SELECT reset_configure_storage('file', '[]');
SELECT reset_configure_storage('file', '{}');
SELECT reset_configure_storage('file', '{"root": 42}');
SELECT reset_configure_storage('file', '{"root": "/tmp", "bucket": "x"}');
SELECT reset_configure_storage('file', '{"root": "relative/dir"}');
SELECT reset_configure_storage('file', '{"root": "/tmp/../etc"}');
SELECT reset_configure_storage('file', '{"root": "/"}');
SELECT reset_configure_storage('file', '{"root": "/nonexistent/reset_system"}');
SELECT reset_configure_storage('file', '{"root": "/etc/hostname"}');
\set VERBOSITY default
-- the data directory, or any directory inside or around it, is refused
SELECT regexp_replace(test_error(format('SELECT reset_configure_storage(%L, %L)', 'file',
       jsonb_build_object('root', d))), '"/[^"]*"', '"<dir>"') AS refused
FROM (SELECT current_setting('data_directory') AS d
      UNION ALL SELECT current_setting('data_directory') || '/base'
      UNION ALL SELECT regexp_replace(current_setting('data_directory'), '/[^/]+$', '')) dirs;

-- only a superuser may configure storage
CREATE ROLE rs_not_super;
GRANT EXECUTE ON FUNCTION reset_configure_storage(text, jsonb) TO rs_not_super;
SET ROLE rs_not_super;
SELECT reset_configure_storage('file', jsonb_build_object('root', :'media_dir'));
RESET ROLE;
DROP OWNED BY rs_not_super;
DROP ROLE rs_not_super;

-- the configuration is unchanged by all of that
SELECT backend, options ->> 'root' = :'media_dir' AS same_root FROM reset_system.storage;

-- 'none' removes it: a reset with storage columns is then blocked
SELECT reset_configure_storage('none');
SELECT * FROM test_plan() WHERE line ~ 'PURGE|storage|Fix';
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SELECT reset_configure_storage('file', jsonb_build_object('root', :'media_dir')) IS NOT NULL AS configured;

-- a configuration made on another server (a restored copy) must be confirmed
UPDATE reset_system.storage SET system_identifier = '1';
SELECT regexp_replace(line, '/[^ ]*media', '<media>', 'g') FROM test_plan() WHERE line ~ 'another server|confirm';
SELECT reset_configure_storage('file', jsonb_build_object('root', :'media_dir')) IS NOT NULL AS confirmed;
SELECT * FROM test_plan() WHERE line ~ '^Blockers';

-- prefixes
SELECT reset_register_prefix('tmp/');
SELECT reset_register_prefix('cache/thumbnails');
SELECT reset_register_prefix('tmp/');
\set VERBOSITY terse
SELECT reset_register_prefix(NULL);
SELECT reset_register_prefix('');
SELECT reset_register_prefix('/etc/');
SELECT reset_register_prefix('../up/');
SELECT reset_register_prefix('a/./b/');
SELECT reset_register_prefix('a//b/');
SELECT reset_register_prefix(E'new\nline/');
SELECT reset_unregister_prefix('nope/');
\set VERBOSITY default
SELECT kind, name, action FROM reset_config() WHERE kind IN ('prefix', 'storage');
SELECT * FROM test_plan() WHERE line ~ 'PURGE|prefix|object';
SELECT p -> 'purge' -> 'prefixes' AS prefixes, p -> 'purge' ->> 'backend' AS backend,
       p -> 'purge' ->> 'objects' AS objects
FROM reset_plan_json() p;
SELECT reset_unregister_prefix('cache/thumbnails');
SELECT reset_unregister_prefix('tmp/');
