-- purge_queue: the keys of deleted rows are queued inside the reset's
-- transaction, keys still referenced after the rebuild are not, and the
-- queue rolls back with the reset.  The purge itself starts at COMMIT.
SELECT test_purge_settle();
SELECT store.fingerprint() AS before \gset
SELECT reset_register_prefix('tmp/');

BEGIN;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Queued 5 storage object' AS queued;
SELECT kind, key, state, attempts FROM reset_system.purge_queue
WHERE reset_id = (SELECT max(reset_id) FROM reset_system.purge_queue) ORDER BY kind, key;
-- waiting for the purge before COMMIT would wait forever: refused
SELECT reset_purge_wait();
ROLLBACK;
SELECT count(*) AS queue_rows_after_rollback FROM reset_system.purge_queue;

-- ROLLBACK TO SAVEPOINT takes the queue rows back too
BEGIN;
SAVEPOINT s;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
ROLLBACK TO SAVEPOINT s;
SELECT count(*) AS queue_rows FROM reset_system.purge_queue;
COMMIT;

-- a failing rebuild step: nothing queued
SELECT reset_register_rebuild('broken', 'SELECT 1/0');
SELECT reset_execute('RESET-EVERYTHING');
SELECT reset_unregister_rebuild('broken');
SELECT count(*) AS queue_rows FROM reset_system.purge_queue;

-- a transaction that ran a reset cannot be prepared
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
PREPARE TRANSACTION 'reset_tx';
SELECT count(*) AS prepared FROM pg_prepared_xacts;
SELECT count(*) AS queue_rows FROM reset_system.purge_queue;
-- ... unless the reset was rolled back to a savepoint first
BEGIN;
SAVEPOINT s;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
ROLLBACK TO SAVEPOINT s;
PREPARE TRANSACTION 'no_reset_tx';
ROLLBACK PREPARED 'no_reset_tx';
SELECT store.fingerprint() = :'before' AS unchanged;

-- committed: the worker purges (the files do not exist here, so every
-- key is "already gone", which counts as purged)
SELECT reset_execute('RESET-EVERYTHING') ~ 'Queued 5 storage object' AS queued;
SELECT reset_purge_wait('60 seconds');
SELECT state, objects, last_error FROM reset_purge_status();
SELECT outcome, count(*) FROM reset_system.purge_queue
WHERE kind = 'object' GROUP BY outcome ORDER BY 1;
SELECT purge_objects, purged, purge_failed, purge_finished_at IS NOT NULL AS finished
FROM reset_system.history ORDER BY id DESC LIMIT 1;

-- retrying when nothing failed does nothing
SELECT reset_purge_retry();

SELECT reset_unregister_prefix('tmp/');
DO $$ BEGIN PERFORM store.refill(); END $$;
