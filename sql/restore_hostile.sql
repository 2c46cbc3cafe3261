-- restore_hostile: reset_system.backups is dumped and can be edited, so
-- reset_restore() and reset_restore_plan() check every value they read back
-- from it: a damaged record is a clear ERROR naming the backup and the bad
-- entry, never a crash, and nothing stored reaches SQL unchecked.
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

-- an entry of tables without its "qname": an ERROR, not a crash
BEGIN;
UPDATE reset_system.backups SET tables = jsonb_set(tables, '{0}', (tables -> 0) - 'qname') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
SELECT pg_temp.refusal(:'restore_sql');
SELECT pg_temp.refusal(format('SELECT reset_restore_plan(%s, exclude => %L)', :rid, '{store.coupons}'));
ROLLBACK;

-- without its "columns"
BEGIN;
UPDATE reset_system.backups SET tables = jsonb_set(tables, '{1}', (tables -> 1) - 'columns') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
ROLLBACK;

-- wrong JSON types, NULLs, entries that are not objects, absurd counts
BEGIN;
SAVEPOINT s;
UPDATE reset_system.backups SET tables = jsonb_set(tables, '{0,qname}', '42') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET tables = jsonb_set(tables, '{0,table}', 'null') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET tables = jsonb_set(tables, '{2}', '"store.orders"') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET tables = '{"table": "store.orders"}' WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET tables = jsonb_set(tables, '{0,rows}', '-1') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET tables = jsonb_set(tables, '{0,rows}', '1e300') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET tables = jsonb_set(tables, '{0,rows}', '"2"') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET tables = jsonb_set(tables, '{0,backup}', 'null') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'restore_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET tables = tables || (tables -> 0) WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'restore_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET sequences = jsonb_set(sequences, '{0,last_value}', '"many"') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'restore_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET sequences = jsonb_set(sequences, '{0,sequence}', '"store.coupons"') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'restore_sql');
ROLLBACK TO s;
UPDATE reset_system.backups SET size_bytes = -1 WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'plan_sql');
ROLLBACK;

-- a "qname" that is SQL, not a table name, never reaches a statement
BEGIN;
UPDATE reset_system.backups
SET tables = jsonb_set(tables, '{0,qname}', '"store.coupons; DROP TABLE store.accounts"') WHERE reset_id = :rid;
SELECT pg_temp.refusal(:'restore_sql');
ROLLBACK;
SELECT count(*) AS accounts FROM store.accounts;

-- a backup whose backup table is gone: a blocker with its name
BEGIN;
UPDATE reset_system.backups SET tables = jsonb_set(tables, '{0,backup}', '"t9_gone"') WHERE reset_id = :rid;
SELECT line FROM pg_temp.masked(reset_restore_plan(:rid)) line WHERE line ~ 'Blockers|missing';
ROLLBACK;

-- the backup itself is dropped as ever
SELECT reset_backup_drop(:rid) IS NOT NULL AS dropped;
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = :'bschema';
SELECT test_purge_settle();
