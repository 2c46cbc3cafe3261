-- plan_hierarchy: emptying a table empties its partitions and inheritance
-- children, at any depth and in any schema.  The plan names every one of
-- them with its own count; a child outside the schemas of registered
-- tables, and a table registered the other way inside a tree, block the
-- reset, with fixes that work.
SELECT store.fingerprint() AS before \gset
CREATE SCHEMA hier;
CREATE SCHEMA other;
CREATE TABLE hier.parent_inh (id int, body text);
CREATE TABLE other.child2 () INHERITS (hier.parent_inh);
INSERT INTO hier.parent_inh VALUES (1, 'a'), (2, 'b'), (3, 'c');
INSERT INTO other.child2 VALUES (4, 'd');
CREATE TABLE hier.events (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE hier.events_2025 PARTITION OF hier.events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE hier.events_2026 PARTITION OF hier.events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')
    PARTITION BY RANGE (at);
CREATE TABLE hier.events_2026_h1 PARTITION OF hier.events_2026 FOR VALUES FROM ('2026-01-01') TO ('2026-07-01');
CREATE TABLE hier.events_2026_h2 PARTITION OF hier.events_2026 FOR VALUES FROM ('2026-07-01') TO ('2027-01-01');
INSERT INTO hier.events SELECT g, date '2025-06-01' + g FROM generate_series(0, 499) g;
CREATE TABLE hier.users (id int PRIMARY KEY, name text);
INSERT INTO hier.users VALUES (1, 'alice'), (2, 'bob');
SELECT tbl, action, status FROM reset_register_schema('hier', ARRAY['users']) ORDER BY 1;

-- every partition and child is named under its parent, with the rows in
-- it and below it; the child in schema "other" blocks the reset
SELECT * FROM test_plan() WHERE line ~ '^(Will (DELETE|PRESERVE)|  |Blockers)' AND line !~ 'store\.';
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SELECT count(*) AS child_rows_kept FROM other.child2;

-- the first fix: register the child (it is then listed under its own label)
SELECT reset_register_table('other.child2', 'delete', 'child2');
SELECT * FROM test_plan() WHERE line ~ 'parent_inh|child2|Blockers';
BEGIN;
SELECT line FROM regexp_split_to_table(reset_execute('RESET-EVERYTHING'), E'\n') line WHERE line ~ 'hier';
SELECT (SELECT count(*) FROM ONLY hier.parent_inh) AS parent_rows, (SELECT count(*) FROM other.child2) AS child_rows,
       (SELECT count(*) FROM hier.events) AS event_rows, (SELECT count(*) FROM hier.users) AS user_rows;
ROLLBACK;
SELECT reset_unregister('other.child2');

-- the other fix: take it out of the tree; the reset then leaves it alone
ALTER TABLE other.child2 NO INHERIT hier.parent_inh;
SELECT * FROM test_plan() WHERE line ~ 'parent_inh|child2|Blockers';
ALTER TABLE other.child2 INHERIT hier.parent_inh;

-- a partition in another schema: the same, with DETACH PARTITION as the fix
CREATE TABLE other.events_2027 PARTITION OF hier.events FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
INSERT INTO hier.events VALUES (1000, '2027-03-01');
SELECT * FROM test_plan() WHERE line ~ 'events_2027|^    Fix: .*events_2027';
ALTER TABLE hier.events DETACH PARTITION other.events_2027;
DROP TABLE other.events_2027;
ALTER TABLE other.child2 NO INHERIT hier.parent_inh;

-- a table registered for deletion inside a preserved table's tree: the
-- preserved count would include rows the reset empties.  Blocked.
CREATE TABLE hier.pp (id int, k text) PARTITION BY LIST (k);
CREATE TABLE hier.standalone (id int, k text);
INSERT INTO hier.standalone VALUES (1, 'x');
SELECT reset_register_table('hier.pp', 'preserve', 'pp');
SELECT reset_register_table('hier.standalone', 'delete', 'standalone');
ALTER TABLE hier.pp ATTACH PARTITION hier.standalone FOR VALUES IN ('x');
SELECT * FROM test_plan() WHERE line ~ 'pp|standalone|^Blockers|^  - |^    Fix';
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SELECT count(*) AS preserved_rows_kept FROM hier.pp;
-- its fix: keep it with its parent
SELECT reset_register_table('hier.standalone', 'preserve', 'standalone');
SELECT * FROM test_plan() WHERE line ~ 'pp|standalone|^Blockers';
-- with a tree of its own below it: one blocker, not one per partition
CREATE TABLE hier.kept (id int, k text) PARTITION BY LIST (k);
CREATE TABLE hier.kept_x PARTITION OF hier.kept FOR VALUES IN ('x') PARTITION BY LIST (id);
CREATE TABLE hier.kept_x1 PARTITION OF hier.kept_x FOR VALUES IN (1);
SELECT reset_register_table('hier.kept', 'preserve', 'kept');
SELECT reset_register_table('hier.kept_x', 'delete', 'kept x');
SELECT * FROM test_plan() WHERE line ~ '^Blockers|^  - ';
SELECT reset_unregister('hier.kept');
SELECT reset_unregister('hier.kept_x');
DROP TABLE hier.kept;

-- the reverse: a preserved table inside a deleted table's tree
SELECT reset_unregister('hier.pp');
SELECT reset_unregister('hier.standalone');
DROP TABLE hier.pp;
CREATE TABLE hier.notes (id int, body text);
CREATE TABLE hier.pinned_notes (pinned boolean) INHERITS (hier.notes);
INSERT INTO hier.notes VALUES (1, 'a');
INSERT INTO hier.pinned_notes VALUES (2, 'b', true);
SELECT reset_register_table('hier.notes', 'delete', 'note');
SELECT reset_register_table('hier.pinned_notes', 'preserve', 'pinned note');
SELECT * FROM test_plan() WHERE line ~ '^  - |^    Fix';
-- its fix: take it out of the tree
ALTER TABLE hier.pinned_notes NO INHERIT hier.notes;
SELECT * FROM test_plan() WHERE line ~ 'notes|^Blockers';

-- a child of both a deleted and a kept table
CREATE TABLE hier.both_child () INHERITS (hier.notes, hier.users);
SELECT * FROM test_plan() WHERE line ~ 'both_child|^Blockers';
DROP TABLE hier.both_child;

-- counting a tree needs SELECT on its registered table only (as TRUNCATE
-- needs TRUNCATE on it only): a role that may not read the partitions
-- directly still gets the count of each
DELETE FROM reset_system.registered_tables WHERE tbl::text LIKE 'store.%';
DELETE FROM reset_system.rebuild_steps;
CREATE ROLE rs_reader;
GRANT USAGE ON SCHEMA hier TO rs_reader;
GRANT SELECT ON hier.parent_inh, hier.events, hier.users, hier.notes, hier.pinned_notes TO rs_reader;
GRANT EXECUTE ON FUNCTION reset_plan(boolean) TO rs_reader;
SELECT has_table_privilege('rs_reader', 'hier.events_2025', 'SELECT') AS reads_a_partition;
SET ROLE rs_reader;
SELECT line FROM regexp_split_to_table(reset_plan(), E'\n') line WHERE line ~ 'events';
RESET ROLE;
DROP OWNED BY rs_reader;
DROP ROLE rs_reader;

-- JSON: the children with their kind, parent, depth and counts
SELECT jsonb_pretty(jsonb_path_query_array(reset_plan_json(), '$.delete[*] ? (@.table == "hier.events")'));

SET client_min_messages = warning;
DROP SCHEMA hier, other CASCADE;
RESET client_min_messages;
DO $$ BEGIN PERFORM store.register(); END $$;
SELECT store.fingerprint() = :'before' AS unchanged;
