/* reset_system--1.0.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION reset_system" to load this file. \quit

/*
 * Internal tables live in schema reset_system, owned by the extension
 * owner.  The user-facing functions go into the schema the extension is
 * created in (public by default).  The C functions read and write the
 * internal tables with the extension owner's rights, so operators need
 * no privileges on them.
 */
CREATE SCHEMA reset_system;
COMMENT ON SCHEMA reset_system IS 'reset_system configuration, history and purge queue';

CREATE TABLE reset_system.registered_tables (
    tbl              pg_catalog.regclass PRIMARY KEY,
    action           text NOT NULL CHECK (action IN ('delete', 'preserve')),
    label            text NOT NULL CHECK (label <> ''),
    storage_columns  text[] NOT NULL DEFAULT '{}',
    registered_name  text NOT NULL,
    registered_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    registered_by    name NOT NULL
);
COMMENT ON TABLE reset_system.registered_tables IS
    'Tables a reset deletes or preserves (see reset_register_table)';

CREATE TABLE reset_system.rebuild_steps (
    label          text PRIMARY KEY CHECK (label <> ''),
    command        text NOT NULL,
    position       integer NOT NULL UNIQUE,
    registered_at  timestamptz NOT NULL DEFAULT pg_catalog.now(),
    registered_by  name NOT NULL
);
COMMENT ON TABLE reset_system.rebuild_steps IS
    'SQL run after the deletes, in position order (see reset_register_rebuild)';

CREATE TABLE reset_system.history (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at        timestamptz NOT NULL,
    finished_at       timestamptz NOT NULL,
    role_name         name NOT NULL,
    session_role      name NOT NULL,
    database_name     name NOT NULL,
    environment       text NOT NULL,
    mode              text NOT NULL,
    plan_token        text NOT NULL,
    rows_deleted      bigint NOT NULL,
    deleted           jsonb NOT NULL,
    preserved         jsonb NOT NULL,
    rebuilt           jsonb NOT NULL,
    outcome           text NOT NULL,
    transaction_id    xid8,
    client_addr       inet,
    application_name  text
);
COMMENT ON TABLE reset_system.history IS
    'One row per completed reset, written in the reset''s own transaction';

-- Configuration and history survive pg_dump / pg_restore.
SELECT pg_catalog.pg_extension_config_dump('reset_system.registered_tables', '');
SELECT pg_catalog.pg_extension_config_dump('reset_system.rebuild_steps', '');
SELECT pg_catalog.pg_extension_config_dump('reset_system.history', '');
SELECT pg_catalog.pg_extension_config_dump('reset_system.history_id_seq', '');

REVOKE ALL ON ALL TABLES IN SCHEMA reset_system FROM PUBLIC;

-- Configuration -------------------------------------------------------------

CREATE FUNCTION reset_register_table(tbl regclass, action text,
                                     label text DEFAULT NULL,
                                     storage_columns text[] DEFAULT '{}')
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_register_table';
COMMENT ON FUNCTION reset_register_table(regclass, text, text, text[]) IS
    'Register a table: action ''delete'' (a reset deletes its rows) or ''preserve'' (kept and counted). label names its rows in reports; storage_columns are text columns holding storage object keys. Registering again replaces the registration.';

CREATE FUNCTION reset_register_rebuild(label text, command text)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_register_rebuild';
COMMENT ON FUNCTION reset_register_rebuild(text, text) IS
    'Register a rebuild step: SQL run after the deletes, in registration order. If it returns one integer, that is the count reported.';

CREATE FUNCTION reset_unregister(tbl regclass)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_unregister';
COMMENT ON FUNCTION reset_unregister(regclass) IS
    'Forget a table''s registration.';

CREATE FUNCTION reset_unregister_rebuild(label text)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_unregister_rebuild';
COMMENT ON FUNCTION reset_unregister_rebuild(text) IS
    'Forget a rebuild step.';

CREATE FUNCTION reset_register_schema(schema_name name,
                                      except_tables text[] DEFAULT '{}',
                                      OUT tbl regclass, OUT action text,
                                      OUT status text)
RETURNS SETOF record
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_register_schema';
COMMENT ON FUNCTION reset_register_schema(name, text[]) IS
    'Register every table of a schema for deletion, except the tables named in except_tables, which are registered for preservation. Tables already registered keep their registration.';

CREATE FUNCTION reset_config(OUT kind text, OUT name text, OUT action text,
                             OUT label text, OUT detail text,
                             OUT "position" integer)
RETURNS SETOF record
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'reset_config';
COMMENT ON FUNCTION reset_config() IS
    'Everything registered: one row per table and per rebuild step.';

-- Plan and execute ----------------------------------------------------------

CREATE FUNCTION reset_plan()
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_plan';
COMMENT ON FUNCTION reset_plan() IS
    'Dry run: what a reset would delete, rebuild and preserve, warnings, blockers, and the statement that executes it. Changes nothing.';

CREATE FUNCTION reset_plan_json()
RETURNS jsonb
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_plan_json';
COMMENT ON FUNCTION reset_plan_json() IS
    'The dry-run plan as jsonb (keys: database, environment, delete, preserve, rebuild, warnings, blockers, token, ...). Changes nothing.';

CREATE FUNCTION reset_execute(phrase text, plan_token text DEFAULT NULL)
RETURNS text
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_execute';
COMMENT ON FUNCTION reset_execute(text, text) IS
    'Delete and rebuild inside the caller''s transaction. phrase must be exactly RESET-EVERYTHING; plan_token, when given, must match the current plan.';
