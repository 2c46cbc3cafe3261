-- plan_structure_token: the token covers the structure a reset depends
-- on, not only the configuration.  A table added to a registered schema, a
-- partition or child attached, or a storage column retyped after the plan
-- was read makes the old token fail with RS002; the error does not print
-- the new token.  What does not change what runs (row counts, a foreign
-- key, which is checked again under the locks) leaves it as it was.
SELECT store.fingerprint() AS before \gset
SELECT test_token() AS token \gset

-- row counts and a new column do not change the token
INSERT INTO store.coupons (code) VALUES ('EXTRA');
ALTER TABLE store.coupons ADD COLUMN note text;
SELECT test_token() = :'token' AS same_token;
ALTER TABLE store.coupons DROP COLUMN note;
DELETE FROM store.coupons WHERE code = 'EXTRA';

-- a table added by a migration: the plan warns, the old token is refused
CREATE TABLE store.invoices (id int);
SELECT * FROM test_plan() WHERE line ~ 'invoices';
SELECT regexp_replace(e, '[0-9a-f]{16}', '<token>', 'g') AS error
FROM test_error_full(format('SELECT reset_execute(%L, %L)', 'RESET-EVERYTHING', :'token')) e;
-- the error names the token given, never the new one
CREATE FUNCTION test_error_text(cmd text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    msg text; det text; hnt text;
BEGIN
    EXECUTE cmd;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN concat_ws(E'\n', msg, det, hnt);
END
$$;
SELECT position(:'token' IN e) > 0 AS names_given_token,
       position(test_token() IN e) = 0 AS new_token_not_shown
FROM test_error_text(format('SELECT reset_execute(%L, %L)', 'RESET-EVERYTHING', :'token')) e;
DROP FUNCTION test_error_text(text);
SELECT store.fingerprint() = :'before' AS unchanged;
-- the new plan's token runs, and its result repeats the plan's warning
BEGIN;
SELECT line FROM regexp_split_to_table(reset_execute('RESET-EVERYTHING', test_token()), E'\n') line
WHERE line ~ '^Warning|Reset done';
ROLLBACK;
DROP TABLE store.invoices;
SELECT test_token() = :'token' AS token_back;

-- a partition attached (in another schema) after the plan was read
CREATE TABLE store.visits (id int, at date) PARTITION BY RANGE (at);
CREATE TABLE store.visits_2026 PARTITION OF store.visits FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
SELECT reset_register_table('store.visits', 'delete', 'visit');
SELECT test_token() AS token \gset
CREATE SCHEMA archive;
CREATE TABLE archive.visits_2027 (id int, at date);
INSERT INTO archive.visits_2027 VALUES (1, '2027-02-01');
ALTER TABLE store.visits ATTACH PARTITION archive.visits_2027 FOR VALUES FROM ('2027-01-01') TO ('2028-01-01');
SELECT test_error(format('SELECT reset_execute(%L, %L)', 'RESET-EVERYTHING', :'token'));
SELECT count(*) AS rows_kept FROM archive.visits_2027;
ALTER TABLE store.visits DETACH PARTITION archive.visits_2027;
SELECT test_token() = :'token' AS token_back;

-- an inheritance child created after the plan
CREATE TABLE store.notes (id int);
SELECT reset_register_table('store.notes', 'delete', 'note');
SELECT test_token() AS token \gset
CREATE TABLE store.pinned_notes () INHERITS (store.notes);
SELECT test_error(format('SELECT reset_execute(%L, %L)', 'RESET-EVERYTHING', :'token'));
DROP TABLE store.pinned_notes;

-- a storage column whose type changed after the plan
SELECT test_token() AS token \gset
ALTER TABLE store.products ALTER COLUMN image_key TYPE varchar(200);
SELECT test_token() <> :'token' AS changed_by_retype;
ALTER TABLE store.products ALTER COLUMN image_key TYPE text;
SELECT test_token() = :'token' AS token_back;

-- the phrase hint carries the token the caller passed
SELECT regexp_replace(e, '[0-9a-f]{16}', '<token>', 'g') AS error
FROM test_error_full(format('SELECT reset_execute(%L, %L)', 'reset-everything', :'token')) e;
SELECT e = format('HINT:     To go ahead, run: SELECT reset_execute(%L, %L); after reading the plan.',
                  'RESET-EVERYTHING', :'token') AS hint_has_callers_token
FROM test_error_full(format('SELECT reset_execute(%L, %L)', 'reset-everything', :'token')) e
WHERE e LIKE 'HINT:%';

SET client_min_messages = warning;
DROP TABLE store.visits, store.notes;
DROP SCHEMA archive CASCADE;
RESET client_min_messages;
DO $$ BEGIN PERFORM store.register(); END $$;
SELECT store.fingerprint() = :'before' AS unchanged;
