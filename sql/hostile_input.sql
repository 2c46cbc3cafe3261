-- hostile_input: inputs chosen to break the configuration functions get
-- a clear error with a proper SQLSTATE, naming what is wrong.

-- every function that changes the configuration refuses a read-only
-- transaction up front, naming itself (not an internal statement)
CREATE TABLE hostile (id int PRIMARY KEY, kind text, ref bigint);
CREATE ROLE hostile_operator;
-- the whole error, unmasked
CREATE FUNCTION hostile_error(cmd text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hnt text;
BEGIN
    EXECUTE cmd;
    RETURN NEXT 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                            det = PG_EXCEPTION_DETAIL, hnt = PG_EXCEPTION_HINT;
    RETURN NEXT st || ': ' || msg;
    IF det <> '' THEN RETURN NEXT 'DETAIL: ' || det; END IF;
    IF hnt <> '' THEN RETURN NEXT 'HINT: ' || hnt; END IF;
END
$$;
BEGIN READ ONLY;
SELECT cmd, test_error(cmd) FROM unnest(ARRAY[
    $$SELECT reset_register_table('hostile', 'delete')$$,
    $$SELECT reset_unregister('hostile')$$,
    $$SELECT reset_register_rebuild('x', 'SELECT 1')$$,
    $$SELECT reset_unregister_rebuild('x')$$,
    $$SELECT * FROM reset_register_schema('public')$$,
    $$SELECT reset_register_nullify('hostile', ARRAY['kind'])$$,
    $$SELECT reset_unregister_nullify('hostile')$$,
    $$SELECT reset_register_generic('hostile', 'kind', 'ref', '{"A": "hostile"}')$$,
    $$SELECT reset_unregister_generic('hostile')$$,
    $$SELECT reset_configure_storage('none')$$,
    $$SELECT reset_register_prefix('uploads/')$$,
    $$SELECT reset_unregister_prefix('uploads/')$$,
    $$SELECT reset_grant_operator('hostile_operator')$$
]) AS cmd;
ROLLBACK;
SET default_transaction_read_only = on;
SELECT * FROM hostile_error($$SELECT reset_register_prefix('uploads/')$$);
RESET default_transaction_read_only;

-- storage options that jsonb accepts but the drivers cannot read say why:
-- nested too deeply, a number out of range, not an object
SELECT * FROM hostile_error($$SELECT reset_configure_storage('file',
    (repeat('{"a": ', 3000) || '1' || repeat('}', 3000))::jsonb)$$);
SELECT * FROM hostile_error($$SELECT reset_configure_storage('s3',
    (repeat('[', 2100) || repeat(']', 2100))::jsonb)$$);
SELECT * FROM hostile_error($$SELECT reset_configure_storage('file', '{"root": 1e100}')$$);
SELECT * FROM hostile_error($$SELECT reset_configure_storage('gcs', '{"bucket": -12345678901234567890}')$$);
SELECT * FROM hostile_error($$SELECT reset_configure_storage('azure', '{"account": 1e400}')$$);
SELECT * FROM hostile_error($$SELECT reset_configure_storage('http', '"https://files.example.com/"')$$);
SELECT * FROM hostile_error($$SELECT reset_configure_storage('s3', 'null')$$);
SELECT * FROM hostile_error($$SELECT reset_configure_storage('file', '[{"root": "/srv"}]')$$);

DROP FUNCTION hostile_error(text);
DROP ROLE hostile_operator;
DROP TABLE hostile;
