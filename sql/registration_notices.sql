-- registration_notices: registering again replaces a registration; the
-- caller is told what changed, and warned when storage columns are no
-- longer registered (their files would no longer be purged).  A rebuild
-- command already registered under another label is refused unless
-- allow_duplicate => true.
CREATE SCHEMA notes;
CREATE TABLE notes.attachments (id int, file_key text, thumb_key text);

SELECT reset_register_table('notes.attachments', 'delete', 'attachment', '{file_key,thumb_key}');
SELECT reset_register_table('notes.attachments', 'delete', 'attachment', '{file_key,thumb_key}');
SELECT reset_register_table('notes.attachments', 'delete', 'attachment', '{thumb_key,file_key}');
SELECT reset_register_table('notes.attachments', 'preserve', 'file');
SELECT reset_register_table('notes.attachments', 'delete', 'file', '{file_key}');
-- a column dropped from the table: the warning offers no statement that
-- would fail
ALTER TABLE notes.attachments DROP COLUMN file_key;
SELECT reset_register_table('notes.attachments', 'delete', 'file');
SELECT name, action, label, detail FROM reset_config() WHERE name = 'notes.attachments';

-- rebuild steps: replaced in place, with what changed
SELECT reset_register_rebuild('seed', 'SELECT 1');
SELECT reset_register_rebuild('seed', 'SELECT 1');
SELECT reset_register_rebuild('seed', 'SELECT 2');
SET search_path = notes, public;
SELECT reset_register_rebuild('seed', 'SELECT 2');
RESET search_path;

-- the same command under a second label would run (and seed) twice
SELECT reset_register_rebuild('seed again', 'SELECT 2');
SELECT reset_register_rebuild('seed again', E'  SELECT\n  2 ;  ');
SELECT reset_register_rebuild('seed again', 'SELECT 2', allow_duplicate => true);
SELECT name, detail, position FROM reset_config() WHERE kind = 'rebuild' AND name LIKE 'seed%' ORDER BY position;

SELECT reset_unregister_rebuild('seed');
SELECT reset_unregister_rebuild('seed again');
SELECT reset_unregister('notes.attachments');
DROP SCHEMA notes CASCADE;
