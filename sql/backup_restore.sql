-- backup_restore: reset_execute(..., backup => true) first copies the rows it
-- deletes into schema reset_backup_<id>; reset_restore() puts them back after
-- reading reset_restore_plan(), refusing a backup that no longer matches the
-- tables; backups are listed and dropped.
SELECT test_purge_settle();
SELECT store.fingerprint() AS before \gset

-- nothing to restore yet
\set VERBOSITY terse
SELECT reset_restore(999, 'RESTORE-EVERYTHING');
SELECT reset_restore(NULL, 'RESTORE-EVERYTHING');
SELECT reset_restore_plan(999);
\set VERBOSITY default

-- the plan says a backup will be taken, and warns about the files
SET reset_system.backup = on;
SELECT line FROM test_plan() WHERE line ~ 'BACK UP|purge_delay';
SET reset_system.purge_delay = '1h';
SELECT line FROM test_plan() WHERE line ~ 'BACK UP|PURGE|purge_delay';
RESET reset_system.backup;

-- the reset takes the backup first, and holds its purge for an hour
SET client_min_messages = warning;
SELECT regexp_replace(line, '\(\d+ kB, [0-9.]+ s\)', '(<size>, <seconds>)') AS line
FROM regexp_split_to_table(reset_execute('RESET-EVERYTHING', backup => true), E'\n') line
WHERE line ~ 'Backed up|purge starts';
RESET client_min_messages;
SELECT max(reset_id) AS rid, 'reset_backup_' || max(reset_id) AS bschema FROM reset_system.backups \gset
SELECT schema_name = :'bschema' AS named, tables, rows, size_bytes > 0 AS sized,
       purge ~ '^5 object\(s\) (held by reset_system.purge_delay|pending, first at )' AS held, restored_at, dropped_at
FROM reset_backups();
SELECT c.relname AS backup_table FROM pg_class c
WHERE c.relnamespace = :'bschema'::regnamespace AND c.relkind = 'r' ORDER BY 1;
SELECT jsonb_path_query_array(tables, '$[*].table') AS tables,
       jsonb_path_query_array(sequences, '$[*].sequence') AS sequences
FROM reset_system.backups WHERE reset_id = :rid;
-- nobody but its owner may read it
CREATE ROLE rs_reader;
SELECT has_schema_privilege('rs_reader', :'bschema', 'USAGE') AS reader_can_read;
SELECT tbl, n FROM store.counts ORDER BY 1;

-- the dry run
SELECT regexp_replace(regexp_replace(regexp_replace(line, '@ .*$', '@ <server>'),
       'taken .* by', 'taken <when> by'), '\(\d+ kB\)', '(<size>)') AS line
FROM regexp_split_to_table(reset_restore_plan(:rid), E'\n') line;

-- the phrase, then the names in exclude
SELECT reset_restore(:rid, 'restore-everything');
SELECT reset_restore(:rid, NULL);
SELECT reset_restore(:rid, 'RESTORE-EVERYTHING', exclude => '{store.nope}');

-- a table whose columns changed since the backup: refused, with the difference
ALTER TABLE store.coupons ADD COLUMN note text;
SELECT reset_restore(:rid, 'RESTORE-EVERYTHING');
SELECT line FROM regexp_split_to_table(reset_restore_plan(:rid), E'\n') line WHERE line ~ 'Blocker|coupons';
SELECT tbl, n FROM store.counts ORDER BY 1;
-- leaving it out restores the rest (rolled back here)
BEGIN;
SELECT reset_restore(:rid, 'RESTORE-EVERYTHING', exclude => '{store.coupons}');
SELECT tbl, n FROM store.counts ORDER BY 1;
ROLLBACK;
ALTER TABLE store.coupons DROP COLUMN note;

-- a table no longer registered for deletion: refused too
SELECT reset_register_table('store.coupons', 'preserve', 'coupon');
SELECT reset_restore(:rid, 'RESTORE-EVERYTHING');
SELECT reset_register_table('store.coupons', 'delete', 'coupon');

-- the restore: everything as it was, sequences included; the held purge is cancelled
SELECT reset_restore(:rid, 'RESTORE-EVERYTHING');
SELECT store.fingerprint() = :'before' AS identical;
SELECT kind, state, outcome, count(*) FROM reset_system.purge_queue WHERE reset_id = :rid GROUP BY 1, 2, 3;
SELECT rows_restored, objects_already_purged, objects_cancelled, excluded FROM reset_system.restores;
SELECT outcome, reason FROM reset_history() WHERE reset_id = :rid ORDER BY at DESC LIMIT 2;
SELECT purge, restored_at IS NOT NULL AS restored FROM reset_backups() WHERE reset_id = :rid;
-- the backup tables are still not readable by anyone else
SELECT has_schema_privilege('rs_reader', :'bschema', 'USAGE') AS reader_can_read;
DROP ROLE rs_reader;

-- dropping a backup
SELECT reset_backup_drop(:rid);
SELECT count(*) AS schemas FROM pg_namespace WHERE nspname = :'bschema';
SELECT reset_backup_drop(:rid);
\set VERBOSITY terse
SELECT reset_restore(:rid, 'RESTORE-EVERYTHING');
\set VERBOSITY default
SELECT dropped_at IS NOT NULL AS dropped FROM reset_backups() WHERE reset_id = :rid;
RESET reset_system.purge_delay;
SELECT test_purge_settle();
