-- plan_text: the dry-run plan a person reads in psql, on a schema with
-- foreign keys.  It changes nothing.
\set ECHO none
\i test/fixtures/store.sql
\set ECHO all

SELECT store.fingerprint() AS before \gset
SELECT * FROM test_plan();
SELECT store.fingerprint() = :'before' AS unchanged;

-- a table nobody registered in the same schema is a warning
CREATE TABLE store.audit_log (id serial, message text);
SELECT * FROM test_plan() WHERE line ~ 'audit_log|Warnings';

-- ... and a foreign key from it into a deleted table is a blocker
ALTER TABLE store.audit_log ADD COLUMN order_id bigint REFERENCES store.orders;
SELECT * FROM test_plan() WHERE line ~ '^(Blockers|  -|    Fix|Dry run)';

-- registering it for deletion clears both
SELECT reset_register_table('store.audit_log', 'delete', 'audit entry');
SELECT * FROM test_plan() WHERE line ~ '^(Warnings|Blockers|Will DELETE)';

-- row-level DELETE triggers are not fired by TRUNCATE: the plan says so
CREATE FUNCTION store.audit_trigger() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RETURN OLD; END $$;
CREATE TRIGGER coupons_audit BEFORE DELETE ON store.coupons
    FOR EACH ROW EXECUTE FUNCTION store.audit_trigger();
SELECT * FROM test_plan() WHERE line ~ 'trigger';
SET reset_system.mode = 'delete';
SELECT * FROM test_plan() WHERE line ~ 'trigger|^Mode';
RESET reset_system.mode;
DROP TRIGGER coupons_audit ON store.coupons;

-- a registered table that was dropped is skipped, with a warning
CREATE TABLE store.gone (id int);
SELECT reset_register_table('store.gone', 'delete');
DROP TABLE store.gone;
SELECT regexp_replace(line, '[0-9]{4,}', '<oid>', 'g') FROM test_plan() WHERE line ~ 'gone';

-- a renamed table must be confirmed: blocker, with the statement to run
ALTER TABLE store.coupons RENAME TO vouchers;
SELECT * FROM test_plan() WHERE line ~ 'vouchers|coupons';
SELECT reset_register_table('store.vouchers', 'delete', 'coupon');
SELECT * FROM test_plan() WHERE line ~ 'vouchers|coupons|^Blockers';
ALTER TABLE store.vouchers RENAME TO coupons;

-- partitions and inheritance children are counted with their parent
CREATE TABLE store.events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE store.events_h1 PARTITION OF store.events FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE TABLE store.events_h2 PARTITION OF store.events FOR VALUES FROM ('2026-07-01') TO ('2027-01-01');
INSERT INTO store.events SELECT g, date '2026-01-01' + g FROM generate_series(0, 299) g;
SELECT reset_register_table('store.events', 'delete', 'event');
CREATE TABLE store.notes (id int, body text);
CREATE TABLE store.pinned_notes (pinned boolean) INHERITS (store.notes);
INSERT INTO store.notes VALUES (1, 'a'), (2, 'b');
INSERT INTO store.pinned_notes VALUES (3, 'c', true);
SELECT reset_register_table('store.notes', 'delete', 'note');
SELECT * FROM test_plan() WHERE line ~ 'event|note';
-- a preserved child of a deleted parent is a blocker
SELECT reset_register_table('store.pinned_notes', 'preserve', 'pinned note');
SELECT * FROM test_plan() WHERE line ~ 'pinned';
SELECT reset_unregister('store.pinned_notes');

-- nothing registered: the plan says what to do
DELETE FROM reset_system.registered_tables;
DELETE FROM reset_system.rebuild_steps;
SELECT * FROM test_plan();

SET client_min_messages = warning;
DROP TABLE store.events, store.notes CASCADE;
DROP TABLE store.audit_log;
RESET client_min_messages;
DO $$ BEGIN PERFORM store.register(); END $$;

-- estimates: counts from the statistics, marked ~, in milliseconds on any
-- size; a table whose statistics were never gathered is counted exactly
ANALYZE store.accounts, store.orders, store.order_items, store.products, store.coupons;
CREATE TABLE store.fresh (id int);
INSERT INTO store.fresh SELECT generate_series(1, 3);
SELECT reset_register_table('store.fresh', 'delete', 'fresh row');
SELECT * FROM test_plan_estimate() WHERE line ~ '~|Counts|Will (DELETE|PRESERVE)|fresh';
SELECT p->'estimate' AS estimate, p->'delete_rows' AS delete_rows,
       jsonb_path_query_array(p->'delete', '$[*] ? (@.estimated == true).table') AS estimated
FROM reset_plan_json(estimate => true) p;
SELECT reset_plan_json() -> 'estimate' AS exact_plan_estimate;
SELECT reset_unregister('store.fresh');
DROP TABLE store.fresh;
