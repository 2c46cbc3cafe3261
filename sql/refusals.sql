-- refusals: a reset refuses clearly, before touching anything, in a
-- read-only transaction and when nothing is registered.
SELECT * FROM store.counts;

BEGIN READ ONLY;
SELECT reset_execute('RESET-EVERYTHING');
ROLLBACK;

SET default_transaction_read_only = on;
SELECT reset_execute('RESET-EVERYTHING');
RESET default_transaction_read_only;
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$)
FROM (SELECT set_config('transaction_read_only', 'on', true)) s;

-- nothing registered
CREATE TEMP TABLE saved_tables AS SELECT * FROM reset_system.registered_tables;
CREATE TEMP TABLE saved_steps AS SELECT * FROM reset_system.rebuild_steps;
DELETE FROM reset_system.registered_tables;
DELETE FROM reset_system.rebuild_steps;
SELECT reset_execute('RESET-EVERYTHING');
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);

-- only preserved tables and no rebuild step: nothing to reset either
INSERT INTO reset_system.registered_tables SELECT * FROM saved_tables WHERE action = 'preserve';
SELECT reset_execute('RESET-EVERYTHING');

-- rebuild steps alone are a valid reset (re-seeding without deleting)
INSERT INTO reset_system.rebuild_steps SELECT * FROM saved_steps;
BEGIN;
SELECT reset_execute('RESET-EVERYTHING');
ROLLBACK;

DELETE FROM reset_system.registered_tables;
INSERT INTO reset_system.registered_tables SELECT * FROM saved_tables;
SELECT * FROM store.counts;
DO $$ BEGIN PERFORM store.refill(); END $$;
