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

-- targets of a generic reference: a nested value, a name that is not a
-- name, and a huge one are each refused for what they are
SELECT * FROM hostile_error($$SELECT reset_register_generic('hostile', 'kind', 'ref',
    ('{"A": ' || repeat('{"a": ', 3000) || '1' || repeat('}', 3000) || '}')::jsonb)$$);
SELECT * FROM hostile_error($$SELECT reset_register_generic('hostile', 'kind', 'ref', '{"A": ["hostile"]}')$$);
SELECT * FROM hostile_error($$SELECT reset_register_generic('hostile', 'kind', 'ref', '{"A": "a.b.c.d"}')$$);
SELECT * FROM hostile_error($$SELECT reset_register_generic('hostile', 'kind', 'ref', '{"A": "\"unterminated"}')$$);
SELECT * FROM hostile_error($$SELECT reset_register_generic('hostile', 'kind', 'ref',
    jsonb_build_object(E'B\n' || repeat('b', 100), repeat('x', 1000000)))$$);

-- a megabyte of input, or control characters, are never echoed as they
-- are: values are quoted, escaped and cut after 64 characters
SELECT length(m) < 300 AS short, m FROM (
    SELECT hostile_error(cmd) AS m FROM unnest(ARRAY[
        $$SELECT reset_register_table('hostile', repeat('d', 1000000))$$,
        $$SELECT reset_register_table('hostile', 'delete', 'x', ARRAY[E'no\nsuch' || repeat('c', 1000000)])$$,
        $$SELECT reset_register_table('hostile', 'delete', repeat('l', 1000000))$$,
        $$SELECT reset_register_rebuild('x', 'SELECT 1', phase => E'la\tter' || repeat('p', 1000000))$$,
        $$SELECT reset_unregister_rebuild(E'\x01' || repeat('l', 1000000))$$,
        $$SELECT reset_register_nullify('hostile', ARRAY[repeat('n', 1000000)])$$,
        $$SELECT reset_register_generic('hostile', repeat('t', 1000000), 'ref', '{"A": "hostile"}')$$,
        $$SELECT reset_register_generic('hostile', 'kind', 'ref', convention => E'rails\r' || repeat('v', 1000000))$$,
        $$SELECT * FROM reset_register_schema('public', ARRAY[repeat('e', 1000000)])$$,
        $$SELECT reset_register_prefix(E'\x7f' || repeat('p', 1000000))$$,
        $$SELECT reset_unregister_prefix(repeat('p', 1000000))$$,
        $$SELECT reset_configure_storage('file', jsonb_build_object('root', '/' || repeat('r', 1000000)))$$,
        $$SELECT reset_configure_storage('file', jsonb_build_object('root', 'relative' || repeat('r', 1000000)))$$,
        $$SELECT reset_configure_storage('s3', jsonb_build_object(E'bu\ncket' || repeat('k', 1000000), 'x'))$$,
        $$SELECT reset_configure_storage('http', jsonb_build_object('base_url', E'http://a b\n' || repeat('u', 1000000)))$$
    ]) AS cmd
) e WHERE m NOT LIKE 'HINT:%';

DROP FUNCTION hostile_error(text);
DROP ROLE hostile_operator;
DROP TABLE hostile;
