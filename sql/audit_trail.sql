-- audit_trail: every attempt leaves a durable record, even when the
-- caller's transaction rolls back: refusals, failures, resets that were
-- rolled back, and completed resets, newest first in reset_history().
-- earlier tests' attempts may still be in the journal: copy them in first
SELECT count(*) AS earlier_attempts FROM reset_history() \gset
SELECT max(id) AS last_attempt FROM reset_system.attempts \gset
SELECT now() AS since \gset

-- a refusal inside a transaction that rolls back
BEGIN;
SELECT reset_execute('reset everything');
ROLLBACK;
-- a failure while running (a rebuild step that errors)
SELECT reset_register_rebuild('broken', 'SELECT 1/0');
SELECT reset_execute('RESET-EVERYTHING');
SELECT reset_unregister_rebuild('broken');
-- a reset that ran, then the caller rolled back
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
ROLLBACK;
-- a plan token from another configuration
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING', 'ffffffffffffffff')$$);
-- the guards: an unlabelled database, a locked production, the size guard
BEGIN;
SET LOCAL reset_system.environment = 'unset';
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SET LOCAL reset_system.environment = 'production';
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SET LOCAL reset_system.environment = 'test';
SET LOCAL reset_system.max_rows = 1;
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
ROLLBACK;
-- and one that committed
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;

SELECT role_name = current_user AS me, database_name, environment, outcome,
       regexp_replace(reason, '[0-9a-f]{16}', '<token>', 'g') AS reason,
       rows_deleted, application_name
FROM reset_history() WHERE at >= :'since' ORDER BY at;

-- the attempts table holds them (copied from the journal, outside the
-- transactions that rolled back)
SELECT outcome, sqlstate, reason IS NOT NULL AS has_reason, transaction_id IS NOT NULL AS has_xid
FROM reset_system.attempts WHERE id > COALESCE(:'last_attempt'::bigint, 0) ORDER BY at;

DO $$ BEGIN PERFORM store.refill(); END $$;
