-- modes: TRUNCATE, the small-table DELETE path and delete mode reach the
-- same end state: no rows, owned sequences restarted, baseline rebuilt.
-- Delete mode fires row triggers; truncate mode does not.
CREATE TABLE store.deleted_log (tbl text, n int);
CREATE FUNCTION store.log_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO store.deleted_log VALUES (TG_TABLE_NAME, 1);
    RETURN OLD;
END $$;
CREATE TRIGGER coupons_log AFTER DELETE ON store.coupons
    FOR EACH ROW EXECUTE FUNCTION store.log_delete();
SELECT reset_register_table('store.deleted_log', 'preserve', 'log entry');

-- the end state of one reset, as one comparable value
CREATE FUNCTION store.end_state() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(tbl || '=' || n, ' ' ORDER BY tbl) FROM store.counts
    UNION ALL
    SELECT 'products: ' || string_agg(id || ':' || name, ', ' ORDER BY id) FROM store.products
    UNION ALL
    SELECT 'sequences: ' || string_agg(s, ' ' ORDER BY s) FROM (
        SELECT 'orders=' || last_value || '/' || is_called AS s FROM store.orders_id_seq
        UNION ALL SELECT 'coupons=' || last_value || '/' || is_called FROM store.coupons_id_seq
        UNION ALL SELECT 'products=' || last_value || '/' || is_called FROM store.products_id_seq) q
$$;

-- default: small tables take the DELETE path (no trigger, under the threshold);
-- coupons has a trigger, so it is truncated, and nothing is logged
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
SELECT store.end_state() AS truncate_mode_state;
SELECT count(*) AS trigger_rows_logged FROM store.deleted_log;
SELECT t->>'table' AS tbl, t->>'method' AS method
FROM reset_system.history h, jsonb_array_elements(h.deleted) t
WHERE h.id = (SELECT max(id) FROM reset_system.history) ORDER BY 1;
ROLLBACK;

-- everything by TRUNCATE
SET reset_system.small_table_rows = 0;
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
SELECT store.end_state() AS all_truncate_state;
SELECT t->>'table' AS tbl, t->>'method' AS method
FROM reset_system.history h, jsonb_array_elements(h.deleted) t
WHERE h.id = (SELECT max(id) FROM reset_system.history) ORDER BY 1;
ROLLBACK;
RESET reset_system.small_table_rows;

-- a big table forces the tables that reference it into the TRUNCATE
-- statement (TRUNCATE requires it), small ones elsewhere stay on DELETE
SET reset_system.small_table_rows = 50;
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
SELECT store.end_state() AS mixed_state;
SELECT t->>'table' AS tbl, t->>'rows' AS rows, t->>'method' AS method
FROM reset_system.history h, jsonb_array_elements(h.deleted) t
WHERE h.id = (SELECT max(id) FROM reset_system.history) ORDER BY 1;
ROLLBACK;
RESET reset_system.small_table_rows;

-- delete mode: DELETE in foreign-key order, row triggers fire
SET reset_system.mode = 'delete';
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
SELECT store.end_state() AS delete_mode_state;
SELECT tbl, count(*) AS trigger_rows_logged FROM store.deleted_log GROUP BY tbl;
ROLLBACK;
RESET reset_system.mode;

-- the same end state every way (compared as values)
CREATE TEMP TABLE states (mode text, state text);
DO $$
DECLARE
    m record;
BEGIN
    FOR m IN SELECT * FROM (VALUES ('truncate', '1000'), ('truncate', '0'),
                                   ('truncate', '50'), ('delete', '1000')) v(mode, rows)
    LOOP
        PERFORM set_config('reset_system.mode', m.mode, true);
        PERFORM set_config('reset_system.small_table_rows', m.rows, true);
        PERFORM reset_execute('RESET-EVERYTHING');
        INSERT INTO states SELECT m.mode || '/' || m.rows, string_agg(s, E'\n') FROM store.end_state() s;
        PERFORM store.refill();
    END LOOP;
END $$;
SELECT count(DISTINCT state) AS distinct_end_states, count(*) AS runs FROM states;

-- a foreign-key cycle: delete mode deletes both tables in one statement
CREATE TABLE store.teams (id int PRIMARY KEY, captain_id int);
CREATE TABLE store.players (id int PRIMARY KEY, team_id int REFERENCES store.teams);
ALTER TABLE store.teams ADD FOREIGN KEY (captain_id) REFERENCES store.players;
INSERT INTO store.teams VALUES (1, NULL);
INSERT INTO store.players VALUES (10, 1);
UPDATE store.teams SET captain_id = 10;
SELECT reset_register_table('store.teams', 'delete', 'team');
SELECT reset_register_table('store.players', 'delete', 'player');
SET reset_system.mode = 'delete';
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Deleted 1 team row' AS cycle_deleted;
SELECT (SELECT count(*) FROM store.teams) + (SELECT count(*) FROM store.players) AS rows_left;
ROLLBACK;
RESET reset_system.mode;
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Deleted 1 player row' AS cycle_truncated;
SELECT t->>'table' AS tbl, t->>'method' AS method
FROM reset_system.history h, jsonb_array_elements(h.deleted) t
WHERE h.id = (SELECT max(id) FROM reset_system.history) AND t->>'table' ~ 'teams|players' ORDER BY 1;
ROLLBACK;

SELECT reset_unregister('store.teams');
SELECT reset_unregister('store.players');
DROP TABLE store.teams, store.players CASCADE;

-- a BEFORE DELETE trigger that keeps rows makes delete mode fail loudly
CREATE FUNCTION store.keep_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER coupons_keep BEFORE DELETE ON store.coupons FOR EACH ROW EXECUTE FUNCTION store.keep_row();
SET reset_system.mode = 'delete';
SELECT reset_execute('RESET-EVERYTHING');
RESET reset_system.mode;
DROP TRIGGER coupons_keep ON store.coupons;

-- delete mode needs READ COMMITTED; under REPEATABLE READ truncate mode
-- truncates every non-empty table
SET reset_system.mode = 'delete';
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT reset_execute('RESET-EVERYTHING');
ROLLBACK;
RESET reset_system.mode;
BEGIN ISOLATION LEVEL REPEATABLE READ;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
SELECT string_agg(DISTINCT t->>'method', ',') AS methods
FROM reset_system.history h, jsonb_array_elements(h.deleted) t
WHERE h.id = (SELECT max(id) FROM reset_system.history);
ROLLBACK;

-- an empty table is skipped, but a sequence it had used is restarted
DELETE FROM store.coupons;
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Deleted 0 coupon' AS ran;
SELECT last_value, is_called FROM store.coupons_id_seq;
ROLLBACK;

DROP TRIGGER coupons_log ON store.coupons;
SELECT reset_unregister('store.deleted_log');
DROP TABLE store.deleted_log;
DO $$ BEGIN PERFORM store.refill(); END $$;
