-- rebuild_commands: a rebuild step runs inside the reset's transaction,
-- so a command that cannot is refused when it is registered, with what to
-- write instead (instead of failing every reset after its deletes).
CREATE FUNCTION test_register(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    msg text; hnt text;
BEGIN
    PERFORM reset_register_rebuild('x', cmd);
    PERFORM reset_unregister_rebuild('x');
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, hnt = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || msg || COALESCE(' HINT: ' || NULLIF(hnt, ''), '');
END
$$;

SELECT cmd, test_register(cmd) FROM unnest(ARRAY[
    'CREATE INDEX CONCURRENTLY ON store.coupons (code)',
    'CREATE INDEX ON store.coupons (code)',
    'DROP INDEX CONCURRENTLY store.no_such_index',
    'REINDEX TABLE CONCURRENTLY store.coupons',
    'REINDEX (CONCURRENTLY) INDEX store.coupons_pkey',
    'REINDEX TABLE store.coupons',
    'REINDEX SCHEMA store',
    'REINDEX DATABASE contrib_regression',
    'REINDEX SYSTEM contrib_regression',
    'CLUSTER',
    'ALTER SYSTEM SET work_mem = ''8MB''',
    'VACUUM store.coupons',
    'ANALYZE store.coupons',
    'CREATE DATABASE rs_never',
    'DROP DATABASE rs_never',
    'ALTER DATABASE contrib_regression SET TABLESPACE pg_default',
    'DISCARD ALL',
    'DISCARD TEMP',
    'COMMIT',
    'SELECT 1; ROLLBACK',
    'SAVEPOINT s',
    'PREPARE TRANSACTION ''x'''
]) AS cmd;

-- statements SPI cannot run, or that refuse a transaction block only for
-- some objects (a partitioned table, as the search_path finds it now) or
-- options (a subscription that creates a slot or refreshes); one inside
-- CREATE SCHEMA; settings only a transaction's first statement may change
CREATE TABLE store.parted (id int) PARTITION BY RANGE (id);
CREATE TABLE store.parted_1 PARTITION OF store.parted FOR VALUES FROM (0) TO (10);
CREATE INDEX parted_id ON store.parted (id);
SELECT cmd, test_register(cmd) FROM unnest(ARRAY[
    'COPY store.coupons TO STDOUT',
    'COPY store.coupons (code) FROM STDIN',
    'REINDEX TABLE store.parted',
    'REINDEX INDEX store.parted_id',
    'REINDEX TABLE store.parted_1',
    'CLUSTER store.parted USING parted_id',
    'ALTER TABLE store.parted DETACH PARTITION store.parted_1 CONCURRENTLY',
    'ALTER TABLE store.parted DETACH PARTITION store.parted_1',
    'CREATE SUBSCRIPTION rs_sub CONNECTION ''dbname=x'' PUBLICATION p',
    'CREATE SUBSCRIPTION rs_sub CONNECTION ''dbname=x'' PUBLICATION p WITH (connect = false)',
    'ALTER SUBSCRIPTION rs_sub REFRESH PUBLICATION',
    'ALTER SUBSCRIPTION rs_sub SET PUBLICATION p',
    'ALTER SUBSCRIPTION rs_sub SET PUBLICATION p WITH (refresh = false)',
    'CREATE SCHEMA rs_never CREATE INDEX CONCURRENTLY ON store.coupons (code)',
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
    'SET TRANSACTION READ ONLY',
    'SET LOCAL transaction_read_only = on',
    'RESET transaction_isolation',
    'SET LOCAL work_mem = ''8MB'''
]) AS cmd;
SET search_path = store, public;
SELECT test_register('REINDEX TABLE parted');
RESET search_path;
SELECT test_register('REINDEX TABLE parted');
DROP TABLE store.parted;

-- DO blocks in PL/pgSQL that commit or roll back are found; a variable
-- or column named "commit" is not a COMMIT, nor is one in a string
SELECT test_register($q$DO $b$BEGIN INSERT INTO store.coupons (code) VALUES ('A'); COMMIT; END$b$$q$);
SELECT test_register($q$DO $b$BEGIN IF true THEN ROLLBACK AND CHAIN; END IF; END$b$$q$);
SELECT test_register($q$DO $b$<<outer>> BEGIN <<inner>> BEGIN COMMIT; END; END$b$$q$);
SELECT test_register($q$DO $b$DECLARE commit int; BEGIN SELECT 1 INTO commit; RAISE NOTICE '% COMMIT;', commit; END$b$$q$);
SELECT test_register($q$DO $b$BEGIN EXECUTE 'COMMIT'; END$b$$q$);

-- CALL of a PL/pgSQL procedure that commits, found through the
-- registrant's search_path
CREATE PROCEDURE store.commits() LANGUAGE plpgsql AS $$BEGIN COMMIT; END$$;
CREATE PROCEDURE store.quiet() LANGUAGE plpgsql AS $$BEGIN PERFORM 1; END$$;
SELECT test_register('CALL store.commits()');
SELECT test_register('CALL store.quiet()');
SELECT test_register('CALL commits()');
SET search_path = store, public;
SELECT test_register('CALL commits()');
RESET search_path;

-- what cannot be seen in the text fails when the reset runs, and the
-- reset rolls back: a procedure that commits, called from a function
CREATE FUNCTION store.sneaky() RETURNS void LANGUAGE plpgsql AS $$BEGIN CALL store.commits(); END$$;
SELECT reset_register_rebuild('sneaky', 'SELECT store.sneaky()');
SELECT store.fingerprint() AS before \gset
SELECT test_error($$SELECT reset_execute('RESET-EVERYTHING')$$);
SELECT store.fingerprint() = :'before' AS unchanged;
SELECT reset_unregister_rebuild('sneaky');

DROP FUNCTION store.sneaky();
DROP PROCEDURE store.commits(), store.quiet();
DROP FUNCTION test_register(text);
