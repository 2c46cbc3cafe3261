-- environment_guard: a database must be labelled; a protected environment
-- needs an unlock, committed in an earlier transaction, for each reset.
SELECT store.fingerprint() AS before \gset

-- never labelled: refused, and the hint is the statement that labels it
SET reset_system.environment = 'unset';
SELECT regexp_replace(line, '@ .*', '@ <server>') FROM test_plan() WHERE line ~ '^Environment|has no environment|Fix: Label';
SELECT reset_execute('RESET-EVERYTHING');
SELECT reset_unlock();

-- an ordinary environment needs no unlock
SET reset_system.environment = 'staging';
SELECT reset_unlock();
SELECT * FROM test_plan() WHERE line ~ '^Environment';

-- a protected one (production by default) is locked
SET reset_system.environment = 'production';
SELECT * FROM test_plan() WHERE line ~ '^Environment|protected|Fix: As a role';
SELECT reset_execute('RESET-EVERYTHING');

-- an unlock does not count in its own transaction
BEGIN;
SELECT reset_unlock('10 minutes') ~ 'unlocked until' AS unlocked;
SELECT reset_execute('RESET-EVERYTHING');
ROLLBACK;
SELECT count(*) AS unlocks_after_rollback FROM reset_system.unlocks;

-- once committed, it allows one reset
SELECT reset_unlock('10 minutes') ~ 'takes effect when this transaction commits' AS unlocked;
SELECT regexp_replace(line, 'until [^ ]+ [^ ]+ by', 'until <time> by') FROM test_plan() WHERE line ~ '^Environment';
-- a reset that rolls back does not use it up
BEGIN;
SELECT reset_execute('RESET-EVERYTHING') ~ 'Used the unlock of environment "production"' AS used;
ROLLBACK;
SELECT count(*) FILTER (WHERE consumed_at IS NULL) AS unlocks_still_usable FROM reset_system.unlocks;
-- a committed one does
SELECT reset_execute('RESET-EVERYTHING') ~ 'Used the unlock' AS used;
SELECT h.id = u.consumed_by AS consumed_by_that_reset, h.unlock_id = u.id AS recorded
FROM reset_system.unlocks u, reset_system.history h WHERE h.id = (SELECT max(id) FROM reset_system.history);
-- and the next reset is refused again
SELECT reset_execute('RESET-EVERYTHING');

-- reset_lock cancels an unlock; an expired unlock does not count
SELECT reset_unlock('1 hour') IS NOT NULL AS unlocked;
SELECT reset_lock();
SELECT reset_lock();
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SELECT reset_unlock('1 second') IS NOT NULL AS unlocked;
SELECT pg_sleep(1.2);
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);

-- bad durations
SELECT reset_unlock('25 hours');
SELECT reset_unlock('-5 minutes');
SELECT reset_unlock(NULL);

-- the protected list is a superuser setting; the comparison ignores case
SET reset_system.protected_environments = 'prod, Live';
SET reset_system.environment = 'LIVE';
SELECT * FROM test_plan() WHERE line ~ '^Environment';
CREATE ROLE rs_plain;
SET ROLE rs_plain;
SET reset_system.protected_environments = '';
SET reset_system.environment = 'test';
RESET ROLE;
DROP ROLE rs_plain;
RESET reset_system.protected_environments;
RESET reset_system.environment;

-- unlocks and locks are in the trail
SELECT outcome, reason ~ '^unlocked until|cancelled' AS reason_ok
FROM reset_history() WHERE outcome IN ('unlocked', 'locked') ORDER BY at;

DO $$ BEGIN PERFORM store.refill(); END $$;
