-- config_api: every configuration function, its good and its bad input.
-- A failed call must leave the configuration exactly as it was.
CREATE SCHEMA shop;
CREATE TABLE shop.customers (id serial PRIMARY KEY, name text NOT NULL, photo_key varchar(200));
CREATE TABLE shop.orders (id serial PRIMARY KEY, customer_id int REFERENCES shop.customers,
                          invoice_key text, total numeric, note char(10));
CREATE VIEW shop.order_view AS SELECT * FROM shop.orders;
CREATE MATERIALIZED VIEW shop.order_mv AS SELECT * FROM shop.orders;
CREATE SEQUENCE shop.some_seq;
CREATE TEMP TABLE scratch (id int);
CREATE TABLE shop.events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE shop.events_2026 PARTITION OF shop.events
    FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE DOMAIN shop.object_key AS text CHECK (VALUE <> '');
CREATE TABLE shop.attachments (id int, file_key shop.object_key, size int);

-- good registrations
SELECT reset_register_table('shop.orders', 'delete', 'order', '{invoice_key}');
SELECT reset_register_table('shop.customers', 'preserve');
SELECT reset_register_table('shop.events', 'delete', 'event');
SELECT reset_register_table('shop.attachments', 'delete', 'attachment', '{file_key}');
SELECT kind, name, action, label, detail FROM reset_config() WHERE kind <> 'storage';

-- registering again replaces the registration
SELECT reset_register_table('shop.orders', 'delete', 'customer order', '{invoice_key,note}');
SELECT name, label, detail FROM reset_config() WHERE name = 'shop.orders';

-- bad input: each is refused with a clear error, nothing changes
SELECT reset_register_table(NULL, 'delete');
SELECT reset_register_table('shop.orders', NULL);
SELECT reset_register_table('shop.orders', 'DELETE');
SELECT reset_register_table('shop.orders', 'truncate');
SELECT reset_register_table('shop.nope', 'delete');
SELECT reset_register_table(123456789::oid::regclass, 'delete');
SELECT reset_register_table('shop.order_view', 'delete');
SELECT reset_register_table('shop.order_mv', 'delete');
SELECT reset_register_table('shop.some_seq', 'delete');
-- (the temporary schema's name, pg_temp_N, depends on the server: normalised)
DO $$
DECLARE
    msg text;
    det text;
BEGIN
    PERFORM reset_register_table('scratch', 'delete');
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL;
    RAISE NOTICE 'ERROR % %: %', SQLSTATE, regexp_replace(msg, 'pg_temp_[0-9]+', 'pg_temp_N'), det;
END $$;
SELECT reset_register_table('pg_catalog.pg_class', 'delete');
SELECT reset_register_table('reset_system.history', 'delete');
SELECT reset_register_table('reset_system.registered_tables', 'preserve');
SELECT reset_register_table('shop.orders', 'delete', '');
SELECT reset_register_table('shop.orders', 'delete', E'two\nlines');
SELECT reset_register_table('shop.orders', 'delete', 'order', '{missing_col}');
SELECT reset_register_table('shop.orders', 'delete', 'order', '{Invoice_Key}');
SELECT reset_register_table('shop.orders', 'delete', 'order', '{total}');
SELECT reset_register_table('shop.orders', 'delete', 'order', '{ctid}');
SELECT reset_register_table('shop.orders', 'delete', 'order', '{invoice_key,invoice_key}');
SELECT reset_register_table('shop.orders', 'delete', 'order', ARRAY[NULL]::text[]);
SELECT reset_register_table('shop.orders', 'delete', 'order', '{{invoice_key},{note}}');
-- still the same
SELECT name, action, label, detail FROM reset_config() WHERE kind = 'table' ORDER BY name;

-- a partition may be registered: it is then listed under its partitioned
-- table with its own label (and outside the schemas of registered tables
-- that is how an operator confirms a reset may empty it)
SELECT reset_register_table('shop.events_2026', 'delete', 'event of 2026');
SELECT name, action, label FROM reset_config() WHERE name LIKE 'shop.events%' ORDER BY name;
SELECT reset_unregister('shop.events_2026');

-- rebuild steps
SELECT reset_register_rebuild('baseline customer', 'INSERT INTO shop.customers (name) VALUES (''admin'')');
SELECT reset_register_rebuild('noop', 'SELECT 1');
SELECT reset_register_rebuild('baseline customer', 'INSERT INTO shop.customers (name) VALUES (''root'')');
SELECT name, detail, position FROM reset_config() WHERE kind = 'rebuild' ORDER BY position;
SELECT reset_register_rebuild(NULL, 'SELECT 1');
SELECT reset_register_rebuild('x', NULL);
SELECT reset_register_rebuild('', 'SELECT 1');
SELECT reset_register_rebuild('x', '   ');
SELECT reset_register_rebuild('x', 'SELEC 1');
SELECT reset_register_rebuild('x', 'COMMIT');
SELECT reset_register_rebuild('x', 'INSERT INTO shop.customers (name) VALUES (''a''); ROLLBACK');
SELECT reset_register_rebuild('x', 'VACUUM shop.orders');
SELECT reset_register_rebuild('x', ';');
SELECT name, detail, position FROM reset_config() WHERE kind = 'rebuild' ORDER BY position;

-- unregistering
SELECT reset_unregister('shop.attachments');
SELECT reset_unregister('shop.attachments');
SELECT reset_unregister(NULL);
SELECT reset_unregister_rebuild('noop');
SELECT reset_unregister_rebuild('noop');
SELECT reset_unregister_rebuild(NULL);
SELECT kind, name, action, label FROM reset_config() WHERE kind <> 'storage';

-- a registered table that is dropped is shown as such
CREATE TABLE shop.doomed (id int);
SELECT reset_register_table('shop.doomed', 'delete');
DROP TABLE shop.doomed;
SELECT kind, regexp_replace(name, 'OID [0-9]+', 'OID <oid>') AS name, action
FROM reset_config() WHERE name LIKE '%doomed%';

-- clean up for the next tests
SET client_min_messages = warning;
DELETE FROM reset_system.registered_tables;
DELETE FROM reset_system.rebuild_steps;
DROP SCHEMA shop CASCADE;
RESET client_min_messages;
