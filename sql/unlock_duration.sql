-- unlock_duration: an unlock ends after now and at most 24 hours later,
-- counted on the calendar; intervals whose months and days cancel out on
-- paper, huge ones and infinite ones are all refused.
SET reset_system.environment = 'production';
BEGIN;

-- what reset_unlock does with a duration: the refusal (SQLSTATE, message,
-- detail and hint present), or whether the unlock ends within 24 hours
CREATE FUNCTION unlock_outcome(d text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz;
    e timestamptz;
    msg text;
    detail text;
    hint text;
BEGIN
    IF d IN ('infinity', '-infinity') THEN
        BEGIN
            PERFORM d::interval;
        EXCEPTION WHEN invalid_datetime_format THEN
            -- no infinite intervals on this server: nothing to unlock with
            RETURN CASE d WHEN 'infinity' THEN 'refused (22023): an unlock lasts at most 24 hours'
                ELSE 'refused (22023): the duration of an unlock must be positive' END;
        END;
    END IF;
    t := clock_timestamp();
    PERFORM reset_unlock(d::interval);
    SELECT expires_at INTO e FROM reset_system.unlocks ORDER BY id DESC LIMIT 1;
    IF e > t AND e <= clock_timestamp() + interval '24 hours' THEN
        RETURN 'unlocked, within 24 hours';
    END IF;
    RETURN 'unlocked until ' || e;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN format('refused (%s): %s%s%s', SQLSTATE, msg,
                  CASE WHEN detail = '' THEN ' [no detail]' ELSE '' END,
                  CASE WHEN hint = '' THEN ' [no hint]' ELSE '' END);
END $$;

-- does the outcome agree with the calendar of today?  (For durations
-- whose length in days depends on the current month.)
CREATE FUNCTION unlock_agrees(d text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz := clock_timestamp();
    fits boolean := t + d::interval > t AND t + d::interval <= t + interval '24 hours';
BEGIN
    RETURN (unlock_outcome(d) = 'unlocked, within 24 hours') = fits;
END $$;

SELECT d AS duration, unlock_outcome(d) FROM unnest(ARRAY[
    '15 minutes', '24 hours', '1 second',
    '24 hours 1 second', '25 hours', '2 days -12 hours',
    '1000 years -360000 days 24 hours',
    '1000 years -365000 days',
    '178000000 years', '-178000000 years', '1000000 days', '2147483647 days',
    '-1 sec', '0', '-5 minutes', '1 mon -31 days',
    'infinity', '-infinity']) AS d;

-- these last a time that depends on the month they start in (or, for
-- days, on a daylight saving change)
SELECT d AS duration, unlock_agrees(d) FROM unnest(ARRAY[
    '1 mon -30 days 24:00:00', '1 mon -29 days', '1 mon -28 days', '-1 mon 31 days',
    '1 year -365 days', '1 day', '2 days -24 hours 1 second']) AS d;

-- no unlock ends later than 24 hours from now
SELECT count(*) FILTER (WHERE expires_at > clock_timestamp() + interval '24 hours') AS too_long,
       count(*) FILTER (WHERE expires_at <= now()) AS already_over
FROM reset_system.unlocks WHERE created_xid = pg_current_xact_id();
ROLLBACK;
RESET reset_system.environment;
