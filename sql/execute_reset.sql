-- execute_reset: a successful reset deletes exactly the registered rows,
-- keeps the preserved ones untouched, rebuilds the baseline with ids
-- starting again at 1, reports per entity and records the reset.
SELECT md5(string_agg(a::text, ',' ORDER BY id)) AS accounts_before FROM store.accounts a \gset
SELECT * FROM store.counts;

SELECT reset_execute('RESET-EVERYTHING', test_token());

SELECT * FROM store.counts;
-- preserved rows are untouched
SELECT md5(string_agg(a::text, ',' ORDER BY id)) = :'accounts_before' AS accounts_untouched
FROM store.accounts a;
-- rebuilt rows start again at id 1; the next order gets id 1 too
SELECT id, name, image_key FROM store.products ORDER BY id;
INSERT INTO store.orders (account_id, placed_on) VALUES (1, '2026-11-22') RETURNING id;
INSERT INTO store.coupons (code) VALUES ('NEW') RETURNING id;

-- the history row
SELECT id, role_name = current_user AS by_me, database_name, environment, mode,
       plan_token = test_token() AS token_ok, rows_deleted, deleted, preserved, rebuilt,
       outcome, finished_at >= started_at AS timed, transaction_id IS NOT NULL AS has_xid
FROM reset_system.history ORDER BY id DESC LIMIT 1;

-- a second reset right away works the same way (and finds 1 order, 1 coupon)
SELECT reset_execute('RESET-EVERYTHING');
SELECT * FROM store.counts;

-- a rebuild step that is an INSERT reports the rows it inserted; one that
-- returns nothing countable is reported by name
SELECT reset_register_rebuild('welcome coupon', 'INSERT INTO store.coupons (code) VALUES (''WELCOME''), (''HELLO'')');
SELECT reset_register_rebuild('analyze', 'ANALYZE store.products');
SELECT reset_execute('RESET-EVERYTHING');
SELECT id, code FROM store.coupons ORDER BY id;

-- a rebuild step runs with the search_path it was registered with, as the
-- role that registered it: a caller's own search_path cannot redirect it
SELECT reset_unregister_rebuild('analyze');
SET search_path = store, public;
SELECT reset_register_rebuild('welcome coupon', 'INSERT INTO coupons (code) VALUES (''WELCOME'')');
RESET search_path;
SELECT name, detail, run_as = current_user AS runs_as_registrant
FROM reset_config() WHERE kind = 'rebuild' ORDER BY position;
CREATE SCHEMA decoy;
CREATE TABLE decoy.coupons (id serial, code text);
SET search_path = decoy, public;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Rebuild "welcome coupon": inserted 1 row' AS ran;
RESET search_path;
SELECT count(*) AS rows_in_decoy FROM decoy.coupons;
SELECT id, code FROM store.coupons ORDER BY id;
DROP SCHEMA decoy CASCADE;

SELECT count(*) AS resets_recorded FROM reset_system.history;

DO $$ BEGIN PERFORM store.register(); PERFORM store.refill(); END $$;
