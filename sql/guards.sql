-- guards: the server-wide kill switch and the size guard.
SELECT store.fingerprint() AS before \gset

-- reset_system.allow_reset is a server setting: no session can change it
LOAD 'reset_system';
SET reset_system.allow_reset = off;
ALTER DATABASE contrib_regression SET reset_system.allow_reset = off;

-- turned off (as a superuser, in postgresql.auto.conf), every reset is
-- refused, whatever the phrase or the unlock
ALTER SYSTEM SET reset_system.allow_reset = off;
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SHOW reset_system.allow_reset;
SELECT reset_execute('RESET-EVERYTHING');
SELECT * FROM test_plan() WHERE line ~ 'disabled|allow_reset';
ALTER SYSTEM RESET reset_system.allow_reset;
SELECT pg_reload_conf();
SELECT pg_sleep(0.2);
SHOW reset_system.allow_reset;

-- the size guard: the plan would delete 147 rows
SET reset_system.max_rows = 100;
SELECT * FROM test_plan() WHERE line ~ 'max_rows';
SELECT reset_execute('RESET-EVERYTHING');
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
-- raising it for the reset's own transaction is the explicit override
BEGIN;
SET LOCAL reset_system.max_rows = 147;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Reset done; it takes effect when this transaction commits.$' AS ran;
ROLLBACK;
SHOW reset_system.max_rows;
RESET reset_system.max_rows;

SELECT store.fingerprint() = :'before' AS unchanged;
