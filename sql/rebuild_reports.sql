-- rebuild_reports: a reset reports what happened.  A rebuild step is
-- reported by what its statements did (inserted, updated, deleted, the
-- integer it returned), never as "recreated"; preserved tables are counted
-- after the rebuild steps, and the report says when something changed
-- them; the result ends by saying the reset takes effect at COMMIT, and
-- only a committed reset is "completed" in the history.
SELECT test_purge_settle();
SELECT store.fingerprint() AS before \gset
CREATE TABLE store.permissions (id int, account_id int);
INSERT INTO store.permissions SELECT g, 1 + g % 3 FROM generate_series(1, 1076) g;
SELECT reset_register_table('store.permissions', 'preserve', 'object permission');
SELECT reset_register_rebuild('stale permissions', 'DELETE FROM store.permissions WHERE id > 76');
SELECT reset_register_rebuild('rename accounts', 'UPDATE store.accounts SET name = upper(name)');
SELECT reset_register_rebuild('welcome coupons',
    'INSERT INTO store.coupons (code) VALUES (''HELLO''); INSERT INTO store.coupons (code) VALUES (''HI''), (''HEY''); DELETE FROM store.coupons WHERE code = ''HI''');
SELECT reset_register_rebuild('statistics', 'ANALYZE store.coupons');
SELECT reset_register_rebuild('answer', 'SELECT 42::bigint');

-- the plan names the role each step runs as
SELECT * FROM test_plan() WHERE line ~ '^  [0-9]\.';

BEGIN;
SELECT reset_execute('RESET-EVERYTHING');
SELECT rebuilt, preserved FROM reset_system.history ORDER BY id DESC LIMIT 1;
SELECT count(*) AS permissions_left FROM store.permissions;
ROLLBACK;

-- rolled back: the history says so, never "completed"
SELECT outcome FROM reset_history() LIMIT 1;
SELECT count(*) AS permissions_after_rollback FROM store.permissions;

-- committed: "completed"
SELECT reset_unregister_rebuild('rename accounts');
SELECT reset_execute('RESET-EVERYTHING') ~ 'Reset done; it takes effect when this transaction commits.$' AS ran;
SELECT outcome, rows_deleted FROM reset_history() LIMIT 1;
SELECT preserved FROM reset_system.history ORDER BY id DESC LIMIT 1;

SELECT reset_unregister('store.permissions');
DROP TABLE store.permissions;
DO $$ BEGIN PERFORM store.register(); PERFORM store.refill(); END $$;
SELECT test_purge_settle();
SELECT store.fingerprint() = :'before' AS unchanged;
