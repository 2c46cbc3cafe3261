-- storage_check_locks: a plan waits for its storage check, which a
-- background worker runs; what the plan's own open transaction holds never
-- makes that wait endless.
SELECT regexp_replace(current_setting('data_directory'), '/[^/]+$', '') || '/media' AS media_dir \gset
SELECT reset_configure_storage('file', jsonb_build_object('root', :'media_dir')) IS NOT NULL AS configured;
SET reset_system.storage_check_cache = 0;	-- a live check every plan
SET statement_timeout = '60s';				-- a hang fails here, not in CI's clock

-- more than the 100 answers kept: the worker trims the older ones
INSERT INTO reset_system.storage_checks (checked_at, location, check_name, ok, detail)
SELECT now() - interval '1 day', 'old', 'reachable', true, ''
FROM generate_series(1, 150);

-- the caller's transaction holds those old answers: the worker keeps them
-- (it trims what nobody holds) instead of waiting for a transaction that
-- waits for it
BEGIN;
UPDATE reset_system.storage_checks SET ok = ok;
SELECT reset_plan() ~ 'ok +writable' AS checked;
ROLLBACK;
SELECT reset_plan() IS NOT NULL AS planned;
SELECT count(*) <= 100 AS trimmed_later FROM reset_system.storage_checks;

-- the caller's transaction altered a table with a storage column: the
-- worker cannot read its keys, gives up on that lock and the plan says so
BEGIN;
ALTER TABLE store.products ADD COLUMN note text;
SELECT line FROM regexp_split_to_table(reset_plan(), E'\n') AS line
WHERE line ~ 'directories' AND line ~ 'FAILED';
ROLLBACK;
-- and once it is committed or rolled back, the check passes again
SELECT line FROM regexp_split_to_table(reset_plan(), E'\n') AS line
WHERE line ~ 'directories';
RESET statement_timeout;
RESET reset_system.storage_check_cache;
