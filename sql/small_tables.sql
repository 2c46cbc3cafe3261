-- small_tables: in truncate mode the small tables are emptied 100 per
-- statement, with foreign-key triggers off for those statements only
-- (every table that references them is emptied by the same reset).  A
-- chain of 250 tables with foreign keys of every kind crosses the batch
-- boundaries; afterwards the session checks foreign keys again, also
-- after a reset that failed.
BEGIN;
CREATE SCHEMA many;
DO $$
DECLARE
    kinds text[] := ARRAY['NO ACTION', 'RESTRICT', 'CASCADE', 'SET NULL'];
BEGIN
    CREATE TABLE many.t1 (id serial PRIMARY KEY);
    INSERT INTO many.t1 DEFAULT VALUES;
    INSERT INTO many.t1 DEFAULT VALUES;
    FOR i IN 2..250 LOOP
        EXECUTE format('CREATE TABLE many.t%s (id serial PRIMARY KEY, prev_id int REFERENCES many.t%s ON DELETE %s)',
                       i, i - 1, kinds[1 + i % 4]);
        EXECUTE format('INSERT INTO many.t%s (prev_id) VALUES (1), (2)', i);
    END LOOP;
END $$;
SELECT count(*) AS registered FROM reset_register_schema('many');

SET LOCAL client_min_messages = warning;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Deleted 2 t250 row' AS ran;
SELECT count(*) AS tables, sum((xpath('/row/c/text()',
           query_to_xml(format('SELECT count(*) AS c FROM %s', c.oid::regclass), false, true, '')))[1]::text::int) AS rows_left
FROM pg_class c WHERE c.relnamespace = 'many'::regnamespace AND c.relkind = 'r';
SELECT t->>'method' AS method, count(*) AS tables, sum((t->>'rows')::int) AS rows
FROM reset_system.history h, jsonb_array_elements(h.deleted) t
WHERE h.id = (SELECT max(id) FROM reset_system.history) AND t->>'table' LIKE 'many.%'
GROUP BY 1;
SELECT nextval('many.t1_id_seq') AS t1_restarted, nextval('many.t250_id_seq') AS t250_restarted;

-- foreign keys are checked again right after
SHOW session_replication_role;
SAVEPOINT fk;
INSERT INTO many.t2 (prev_id) VALUES (999);
ROLLBACK TO fk;

-- and after a reset that failed once its deletes were done (t4 references
-- t3 with NO ACTION)
INSERT INTO many.t1 (id) VALUES (100);
INSERT INTO many.t2 (id, prev_id) VALUES (100, 100);
INSERT INTO many.t3 (id, prev_id) VALUES (100, 100);
INSERT INTO many.t4 (id, prev_id) VALUES (100, 100);
SELECT reset_register_rebuild('fails', 'SELECT 1/0');
SAVEPOINT failing;
SELECT reset_execute('RESET-EVERYTHING');
ROLLBACK TO failing;
SHOW session_replication_role;
SELECT (SELECT count(*) FROM many.t1) AS t1_rows, (SELECT count(*) FROM many.t4) AS t4_rows;
SAVEPOINT fk;
DELETE FROM many.t3;
ROLLBACK TO fk;
ROLLBACK;
