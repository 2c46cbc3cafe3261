-- rollback_safety: the reset runs inside the caller's transaction.  A
-- ROLLBACK, a ROLLBACK TO SAVEPOINT or an error in a rebuild step leaves
-- the database exactly as it was, sequences and history included.
SELECT store.fingerprint() AS before \gset
SELECT count(*) AS history_before FROM reset_system.history \gset

-- ROLLBACK after a successful reset
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
SELECT * FROM store.counts;
ROLLBACK;
SELECT store.fingerprint() = :'before' AS unchanged;

-- inside a savepoint, rolled back to the savepoint
BEGIN;
INSERT INTO store.accounts (name) VALUES ('dave');
SAVEPOINT before_reset;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
ROLLBACK TO SAVEPOINT before_reset;
SELECT * FROM store.counts;
ROLLBACK;
SELECT store.fingerprint() = :'before' AS unchanged;

-- inside a savepoint that is released: the reset commits with the transaction
BEGIN;
SAVEPOINT s1;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran;
RELEASE SAVEPOINT s1;
SELECT * FROM store.counts;
ROLLBACK;
SELECT store.fingerprint() = :'before' AS unchanged;

-- a rebuild step that fails aborts everything, the deletes included
SELECT reset_register_rebuild('broken step', 'INSERT INTO store.products (name) VALUES (NULL)');
SELECT reset_execute('RESET-EVERYTHING');
SELECT store.fingerprint() = :'before' AS unchanged;
SELECT reset_unregister_rebuild('broken step');

-- a rebuild step that fails after an earlier step succeeded
SELECT reset_register_rebuild('divide', 'SELECT 1 / 0');
BEGIN;
SELECT reset_execute('RESET-EVERYTHING');
SELECT 1;
ROLLBACK;
SELECT store.fingerprint() = :'before' AS unchanged;
SELECT reset_unregister_rebuild('divide');

-- a rebuild step may not start another reset
SELECT reset_register_rebuild('recurse', 'SELECT reset_execute(''RESET-EVERYTHING'')');
SELECT reset_execute('RESET-EVERYTHING');
SELECT reset_unregister_rebuild('recurse');
-- ... and the guard does not stay set after that failure
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') IS NOT NULL AS ran_again;
ROLLBACK;

SELECT store.fingerprint() = :'before' AS unchanged;
SELECT count(*) = :history_before AS no_history_written FROM reset_system.history;
