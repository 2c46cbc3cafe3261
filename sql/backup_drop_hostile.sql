-- backup_drop_hostile: reset_backup_drop(), restore and its plan only
-- ever read, grant on or drop the schema a reset made for its backup,
-- whatever reset_system.backups.schema_name says after an edit.
SELECT test_purge_settle();
SET client_min_messages = warning;
SELECT reset_execute('RESET-EVERYTHING', backup => true) IS NOT NULL AS reset_with_backup;
RESET client_min_messages;
SELECT max(reset_id) AS rid, 'reset_backup_' || max(reset_id) AS bschema FROM reset_system.backups \gset

-- the lines of a text with the newest reset id (earlier tests decide it)
-- and the extension owner's name masked
CREATE FUNCTION pg_temp.masked(t text) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT replace(regexp_replace(line, '(?<![0-9])' || (SELECT max(reset_id) FROM reset_system.backups) || '(?![0-9])',
                                  '<id>', 'g'),
                   'not by ' || current_user || ',', 'not by <owner>,')
    FROM regexp_split_to_table(t, E'\n') line
$$;
-- the whole error a statement raises, masked
CREATE FUNCTION pg_temp.refusal(cmd text) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT pg_temp.masked(e) FROM test_error_full(cmd) e
$$;
SELECT format('SELECT reset_restore_plan(%s)', :rid) AS plan_sql,
       format('SELECT reset_restore(%s, %L)', :rid, 'RESTORE-EVERYTHING') AS restore_sql,
       format('SELECT reset_backup_drop(%s)', :rid) AS drop_sql \gset

-- schema_name pointing at another schema: nothing is read, granted or dropped
BEGIN;
SAVEPOINT s;
UPDATE reset_system.backups SET schema_name = 'store' WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
SELECT pg_temp.refusal(:'restore_sql');
SELECT pg_temp.refusal(:'drop_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET schema_name = 'pg_catalog' WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'drop_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET schema_name = 'public' WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'drop_sql');
ROLLBACK;
SELECT count(*) AS schemas_still_there FROM pg_namespace WHERE nspname IN ('store', 'public', 'pg_catalog');
SELECT count(*) AS store_tables FROM pg_class WHERE relnamespace = 'store'::regnamespace AND relkind = 'r';

-- keeping the newest backups (reset_system.backup_keep) passes over such a
-- record with a warning: the reset goes on, the record and schema stay
-- (three newer records make it the oldest beyond the default 3 kept)
BEGIN;
INSERT INTO reset_system.backups (reset_id, schema_name, taken_at, role_name, tables, sequences, rows,
                                  size_bytes, copy_seconds)
SELECT reset_id + g, 'reset_backup_' || (reset_id + g), taken_at, role_name, tables, sequences, rows,
       size_bytes, copy_seconds
FROM reset_system.backups, generate_series(1000, 1002) g WHERE reset_id = :rid;
UPDATE reset_system.backups SET schema_name = 'store' WHERE reset_id = :rid;
SET LOCAL client_min_messages = error;
SELECT reset_execute('RESET-EVERYTHING', backup => true) IS NOT NULL AS reset_with_backup;
SELECT dropped_at IS NULL AS kept FROM reset_system.backups WHERE reset_id = :rid;
SELECT count(*) AS store_tables FROM pg_class WHERE relnamespace = 'store'::regnamespace AND relkind = 'r';
ROLLBACK;

-- a schema of the backup's name that a reset did not make is not dropped
CREATE ROLE rs_squatter;
BEGIN;
SAVEPOINT s;
ALTER SCHEMA :"bschema" OWNER TO rs_squatter;
SELECT pg_temp.refusal(:'drop_sql');
SELECT pg_temp.refusal(:'plan_sql');
ROLLBACK TO s;
CREATE VIEW :"bschema".v AS SELECT 1 AS one;
SELECT pg_temp.refusal(:'drop_sql');
ROLLBACK;
DROP ROLE rs_squatter;

-- the backup itself is dropped as ever
SELECT reset_backup_drop(:rid) IS NOT NULL AS dropped;
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = :'bschema';
SELECT test_purge_settle();
