-- phrase_gate: anything but the exact phrase is a loud error, and changes
-- nothing: no lock taken, no row touched, no history written.
SELECT store.fingerprint() AS before \gset
SELECT count(*) AS history_before FROM reset_system.history \gset

SELECT reset_execute('reset-everything');
SELECT reset_execute('RESET-EVERYTHING ');
SELECT reset_execute(' RESET-EVERYTHING');
SELECT reset_execute('');
SELECT reset_execute(NULL);
SELECT reset_execute('RESET EVERYTHING');
SELECT reset_execute('yes');
SELECT reset_execute(NULL, NULL);

-- every one of them raises SQLSTATE RS001
SELECT test_error(format('SELECT reset_execute(%L)', p))
FROM unnest(ARRAY['reset-everything', 'RESET-EVERYTHING ', '', NULL, 'RESET_EVERYTHING']) p;

-- inside a transaction block the error aborts the transaction, as any
-- error does: nothing the caller did before it survives either
BEGIN;
DELETE FROM store.coupons;
SELECT reset_execute('Reset-Everything');
ROLLBACK;

SELECT store.fingerprint() = :'before' AS unchanged;
SELECT count(*) = :history_before AS no_history FROM reset_system.history;
