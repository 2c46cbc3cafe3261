-- storage_column_checks: the storage columns are checked against the
-- catalogs on every plan and again under the reset's locks.  A column
-- dropped, renamed or no longer of a text type is a blocker with a fix;
-- the plan itself never fails on it, and no value cast from another type
-- is ever queued as a storage key.
SELECT test_purge_settle();
SELECT store.fingerprint() AS before \gset
CREATE SCHEMA docs;
CREATE TABLE docs.files (id int, file_key text, thumb_key varchar(100));
INSERT INTO docs.files VALUES (1, 'files/a.pdf', 'thumbs/a.png'), (2, 'files/bb.pdf', NULL);
SELECT reset_register_table('docs.files', 'delete', 'file', '{file_key,thumb_key}');
SELECT * FROM test_plan() WHERE line ~ 'up to|^Blockers';

-- retyped to integer (USING length(...)): 11 and 12 would name other files
ALTER TABLE docs.files ALTER COLUMN file_key TYPE int USING length(file_key);
SELECT * FROM test_plan() WHERE line ~ 'up to|^Blockers|^  - |^    Fix';
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SELECT count(*) AS queued FROM reset_system.purge_queue;
-- the first fix: back to text
ALTER TABLE docs.files ALTER COLUMN file_key TYPE text;
SELECT * FROM test_plan() WHERE line ~ '^Blockers';

-- bytea and text[] are not keys either
ALTER TABLE docs.files ALTER COLUMN file_key TYPE bytea USING file_key::bytea;
SELECT * FROM test_plan() WHERE line ~ '^  - ';
ALTER TABLE docs.files ALTER COLUMN file_key TYPE text[] USING ARRAY[encode(file_key, 'escape')];
SELECT * FROM test_plan() WHERE line ~ '^  - ';
ALTER TABLE docs.files ALTER COLUMN file_key TYPE text USING file_key[1];
-- a domain over text is fine
CREATE DOMAIN docs.object_key AS text CHECK (VALUE <> '');
ALTER TABLE docs.files ALTER COLUMN file_key TYPE docs.object_key;
SELECT * FROM test_plan() WHERE line ~ '^Blockers';

-- renamed: the plan does not fail, it names the column and how to repair it
ALTER TABLE docs.files RENAME COLUMN file_key TO file_path;
SELECT * FROM test_plan() WHERE line ~ 'up to|^Blockers|^  - |^    Fix';
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SELECT jsonb_array_length(reset_plan_json() -> 'blockers') AS json_blockers;
-- its fix: register the table again with the columns it has now
SELECT reset_register_table('docs.files', 'delete', 'file', '{file_path,thumb_key}');
SELECT * FROM test_plan() WHERE line ~ 'up to|^Blockers';

-- dropped, on a preserved table: the purge could delete files its rows
-- still reference, so that blocks too
SELECT reset_register_table('docs.files', 'preserve', 'file', '{file_path,thumb_key}');
ALTER TABLE docs.files DROP COLUMN thumb_key;
SELECT * FROM test_plan() WHERE line ~ '^  - |^    Fix';
SELECT reset_register_table('docs.files', 'preserve', 'file', '{file_path}');
SELECT * FROM test_plan() WHERE line ~ '^Blockers';

-- an edited registration with a NULL column name is read without it
UPDATE reset_system.registered_tables SET storage_columns = ARRAY['file_path', NULL]
WHERE tbl = 'docs.files'::regclass;
SELECT * FROM test_plan() WHERE line ~ '^Blockers';

SELECT count(*) AS queued FROM reset_system.purge_queue;
SET client_min_messages = warning;
DROP SCHEMA docs CASCADE;
RESET client_min_messages;
DO $$ BEGIN PERFORM store.register(); END $$;
SELECT store.fingerprint() = :'before' AS unchanged;
