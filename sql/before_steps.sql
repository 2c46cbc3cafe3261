-- before_steps: steps registered with phase => 'before' run after the
-- reset's locks and before the deletes (for what no declarative rule
-- covers), in registration order, as their registrant; the tables they
-- change are counted again before they are emptied.
SELECT test_purge_settle();
-- a reset's report, its id masked (the tests before this one decide it);
-- its NOTICEs, the same lines, are left out where it runs
CREATE FUNCTION pg_temp.reset_report(token text DEFAULT NULL) RETURNS SETOF text LANGUAGE sql AS $$
    SELECT regexp_replace(line, 'as reset [0-9]+ in', 'as reset <id> in')
    FROM regexp_split_to_table(reset_execute('RESET-EVERYTHING', token), E'\n') AS line
$$;
SELECT store.fingerprint() AS before \gset
CREATE TABLE store.order_archive (orders bigint, items bigint);
SELECT reset_register_table('store.order_archive', 'preserve', 'archive');

-- a step that reads what is about to be deleted, one that adds rows to a
-- table about to be emptied
SELECT reset_register_rebuild('archive totals',
    'INSERT INTO store.order_archive SELECT (SELECT count(*) FROM store.orders), (SELECT count(*) FROM store.order_items)',
    phase => 'before');
SELECT reset_register_rebuild('late coupon', $$INSERT INTO store.coupons (code) VALUES ('LATE')$$, phase => 'before');
SELECT * FROM test_plan() WHERE line ~ '^Will (RUN|REBUILD)|^  [0-9]\.';
SELECT r->>'label' AS label, r->>'phase' AS phase FROM reset_plan_json() p, jsonb_array_elements(p->'rebuild') r;
SELECT kind, name, action, position FROM reset_config() WHERE kind = 'rebuild' ORDER BY position;

BEGIN;
SET client_min_messages = warning;
SELECT * FROM pg_temp.reset_report();
RESET client_min_messages;
SELECT * FROM store.order_archive;
SELECT count(*) AS coupons_left FROM store.coupons;
SELECT rebuilt FROM reset_system.history ORDER BY id DESC LIMIT 1;
ROLLBACK;

-- registering a step again may move it to the other phase
SELECT reset_register_rebuild('late coupon', $$INSERT INTO store.coupons (code) VALUES ('LATE')$$);
SELECT * FROM test_plan() WHERE line ~ '^Will (RUN|REBUILD)|^  [0-9]\.';
SELECT test_error($$SELECT reset_register_rebuild('x', 'SELECT 1', phase => 'during')$$);
-- a step that fails before the deletes: nothing happens
SELECT reset_register_rebuild('archive totals', 'SELECT 1/0', phase => 'before');
SELECT test_error('SELECT reset_execute(''RESET-EVERYTHING'')');
SELECT reset_unregister_rebuild('archive totals');
SELECT reset_unregister_rebuild('late coupon');
SELECT reset_unregister('store.order_archive');
DROP TABLE store.order_archive;
SELECT store.fingerprint() = :'before' AS unchanged;
