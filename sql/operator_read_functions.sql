-- operator_read_functions: an operator reads the history and the purge
-- through functions (the extension's tables stay out of reach), and the
-- purge is counted the same way everywhere: objects listed under a
-- prefix count as objects in the history, reset_purge_wait,
-- reset_purge_status and reset_purge_totals alike.
SELECT test_purge_settle();
SELECT store.fingerprint() AS before \gset

-- files under a registered prefix: two to purge, one a kept row references
SELECT regexp_replace(current_setting('data_directory'), '/[^/]+$', '') || '/media' AS media_dir \gset
SELECT format('cd %s && mkdir -p scratch/deep && echo a > scratch/a.txt && echo b > scratch/deep/b.txt'
              ' && echo k > scratch/kept.png && cat >/dev/null', :'media_dir') AS mk \gset
COPY (SELECT 1) TO PROGRAM :'mk';
ALTER TABLE store.accounts ADD COLUMN avatar_key text;
UPDATE store.accounts SET avatar_key = 'scratch/kept.png' WHERE id = 1;
SELECT reset_register_table('store.accounts', 'preserve', 'account', '{avatar_key}');
SELECT reset_register_prefix('scratch/');

SELECT reset_execute('RESET-EVERYTHING') ~ 'Queued 5 storage object' AS queued;
SELECT reset_purge_wait('60 seconds');

-- the history, the totals and the status agree: 5 keys of deleted rows
-- (already gone here) and 3 objects listed under the prefix, one kept
SELECT purge_objects, purged, purge_failed FROM reset_system.history ORDER BY id DESC LIMIT 1;
SELECT objects, purged, kept, cancelled, failed, pending, prefixes, prefixes_pending, prefixes_failed,
       uploads, finished_at IS NOT NULL AS finished
FROM reset_purge_totals() LIMIT 1;
SELECT t.objects = t.purged + t.kept + t.cancelled + t.failed + t.pending AS objects_add_up,
       t.objects = h.purge_objects AND t.purged = h.purged AS history_agrees
FROM reset_purge_totals() t JOIN reset_system.history h ON h.id = t.id ORDER BY t.id DESC LIMIT 1;
SELECT sum(objects) AS status_objects FROM reset_purge_status((SELECT max(id) FROM reset_system.history));
SELECT (pg_stat_file(:'media_dir' || '/scratch/kept.png', true)).size IS NOT NULL AS kept_file_there,
       (pg_stat_file(:'media_dir' || '/scratch/a.txt', true)).size IS NULL AS purged_file_gone;

-- an operator granted by reset_grant_operator reads them all, and not the
-- tables
CREATE ROLE rs_watcher;
SELECT count(*) > 0 AS granted FROM reset_grant_operator('rs_watcher');
SELECT p.oid::regprocedure AS granted_function
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.deptype = 'e'
WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'reset_system')
  AND has_function_privilege('rs_watcher', p.oid, 'EXECUTE')
ORDER BY 1::text;
SET ROLE rs_watcher;
SELECT state, objects FROM reset_purge_status() ORDER BY state;
SELECT objects, purged, kept, failed FROM reset_purge_totals() LIMIT 1;
SELECT id > 0 AS has_id, rows_deleted, purge_objects, purged, purge_failed, purge_finished_at IS NOT NULL AS finished,
       jsonb_array_length(deleted) AS tables, rebuilt
FROM reset_history_detail() LIMIT 1;
SELECT count(*) = 1 AS one_reset FROM reset_history_detail((SELECT max(id) FROM reset_history_detail()));
SELECT count(*) FROM reset_system.history;
RESET ROLE;

DROP OWNED BY rs_watcher;
DROP ROLE rs_watcher;
SELECT reset_unregister_prefix('scratch/');
ALTER TABLE store.accounts DROP COLUMN avatar_key;
DO $$ BEGIN PERFORM store.register(); PERFORM store.refill(); END $$;
SELECT test_purge_settle();
SELECT store.fingerprint() = :'before' AS unchanged;
