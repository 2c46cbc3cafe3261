-- restore_quoted_names: table and column names that need escaping are
-- backed up and restored, and the restore's record (JSON and text[]) keeps
-- them exactly.
SELECT test_purge_settle();
CREATE TABLE store."q""t" (id integer PRIMARY KEY, "na""me" text);
INSERT INTO store."q""t" VALUES (1, 'one'), (2, 'two, "2"');
SELECT reset_register_table('store."q""t"', 'delete', 'quoted');
SET client_min_messages = warning;
SELECT reset_execute('RESET-EVERYTHING', backup => true) IS NOT NULL AS reset_with_backup;
RESET client_min_messages;
SELECT max(reset_id) AS rid FROM reset_system.backups \gset
SELECT t ->> 'table' AS tbl, t ->> 'qname' AS qname, t -> 'columns' AS columns
FROM reset_system.backups, jsonb_array_elements(tables) t WHERE reset_id = :rid AND t ->> 'table' ~ 'q"t';

-- restored: its name in the restore's JSON record
BEGIN;
-- (the reset's purge may have run already: its warning is left out)
SET LOCAL client_min_messages = error;
SELECT reset_restore(:rid, 'RESTORE-EVERYTHING') IS NOT NULL AS restored;
SELECT excluded, jsonb_path_query_array(tables, '$[*].table') AS tables
FROM reset_system.restores WHERE reset_id = :rid;
SELECT * FROM store."q""t" ORDER BY id;
ROLLBACK;

-- left out: its name in the restore's text[] of excluded tables
BEGIN;
SET LOCAL client_min_messages = error;
SELECT reset_restore(:rid, 'RESTORE-EVERYTHING', exclude => ARRAY['store.q"t']) IS NOT NULL AS restored_but_one;
SELECT excluded, excluded[1] AS first_excluded, jsonb_path_query_array(tables, '$[*].table') AS tables
FROM reset_system.restores WHERE reset_id = :rid;
SELECT count(*) AS left_out FROM store."q""t";
ROLLBACK;

SELECT reset_backup_drop(:rid) IS NOT NULL AS dropped;
SELECT reset_unregister('store."q""t"');
DROP TABLE store."q""t";
SELECT test_purge_settle();
