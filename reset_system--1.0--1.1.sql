/* reset_system--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION reset_system UPDATE TO '1.1'" to load this file. \quit

/*
 * Upgrade from 1.0 to 1.1.  Every change here is also made in
 * reset_system--1.1.sql, so that a fresh install and an upgraded one end
 * with the same objects (test/t/060_upgrade.pl compares them).
 */

/*
 * Registration functions whose signature grows: the new signature
 * replaces the old one, and the roles granted the old one keep their
 * grant.  reset_register_rebuild gains allow_duplicate and phase,
 * reset_register_table gains force.
 */
DO $$
DECLARE
    rebuild_grantees text := (SELECT pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(r.rolname), ', ')
        FROM pg_catalog.pg_proc p
        CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
        JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
        WHERE p.oid OPERATOR(pg_catalog.=) 'reset_register_rebuild(text, text)'::pg_catalog.regprocedure
          AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
          AND a.grantee OPERATOR(pg_catalog.<>) p.proowner);
    table_grantees text := (SELECT pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(r.rolname), ', ')
        FROM pg_catalog.pg_proc p
        CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
        JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
        WHERE p.oid OPERATOR(pg_catalog.=) 'reset_register_table(regclass, text, text, text[])'::pg_catalog.regprocedure
          AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
          AND a.grantee OPERATOR(pg_catalog.<>) p.proowner);
BEGIN
    DROP FUNCTION reset_register_rebuild(text, text);
    CREATE FUNCTION reset_register_rebuild(label text, command text,
                                           allow_duplicate boolean DEFAULT false,
                                           phase text DEFAULT 'after')
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'reset_register_rebuild';
    REVOKE ALL ON FUNCTION reset_register_rebuild(text, text, boolean, text) FROM PUBLIC;
    IF rebuild_grantees IS NOT NULL THEN
        EXECUTE 'GRANT EXECUTE ON FUNCTION reset_register_rebuild(text, text, boolean, text) TO ' OPERATOR(pg_catalog.||) rebuild_grantees;
    END IF;

    DROP FUNCTION reset_register_table(regclass, text, text, text[]);
    CREATE FUNCTION reset_register_table(tbl regclass, action text,
                                         label text DEFAULT NULL,
                                         storage_columns text[] DEFAULT '{}',
                                         force boolean DEFAULT false)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'reset_register_table';
    REVOKE ALL ON FUNCTION reset_register_table(regclass, text, text, text[], boolean) FROM PUBLIC;
    IF table_grantees IS NOT NULL THEN
        EXECUTE 'GRANT EXECUTE ON FUNCTION reset_register_table(regclass, text, text, text[], boolean) TO ' OPERATOR(pg_catalog.||) table_grantees;
    END IF;
END
$$;
COMMENT ON FUNCTION reset_register_rebuild(text, text, boolean, text) IS
    'Register a rebuild step: SQL run after the deletes (phase ''after'') or after the locks and before the deletes (phase ''before''), in registration order, as the registering role. A command already registered under another label is refused unless allow_duplicate. The report says what it did (rows inserted, updated, deleted, or the integer it returned).';
COMMENT ON FUNCTION reset_register_table(regclass, text, text, text[], boolean) IS
    'Register a table: action ''delete'' (a reset deletes its rows) or ''preserve'' (kept and counted). label names its rows in reports; storage_columns are text columns holding storage object keys; force registers a migration-history table for deletion on purpose. Registering again replaces the registration.';
COMMENT ON FUNCTION reset_register_schema(name, text[]) IS
    'Register every table of a schema for deletion, except the tables named in except_tables and the migration-history tables of common migration tools, which are registered for preservation. Tables already registered keep their registration.';
COMMENT ON FUNCTION reset_config() IS
    'Everything registered: one row per table, rebuild step, nullified columns, generic reference, storage backend and purged prefix.';

-- Registrations: migration-history tables deleted on purpose, rebuild
-- steps that run before the deletes.
ALTER TABLE reset_system.registered_tables ADD COLUMN force boolean NOT NULL DEFAULT false;
COMMENT ON TABLE reset_system.registered_tables IS
    'Tables a reset deletes or preserves (see reset_register_table); force: a migration-history table registered for deletion on purpose';
ALTER TABLE reset_system.rebuild_steps
    ADD COLUMN phase text NOT NULL DEFAULT 'after' CHECK (phase IN ('before', 'after'));
COMMENT ON TABLE reset_system.rebuild_steps IS
    'SQL run in position order, as registered_by with search_path: phase after (after the deletes) or before (after the locks, before the deletes) (see reset_register_rebuild)';

-- Kept rows that point into emptied tables (see reset_system--1.1.sql).
CREATE TABLE reset_system.nullify_columns (
    tbl              pg_catalog.regclass PRIMARY KEY,
    columns          text[] NOT NULL CHECK (pg_catalog.cardinality(columns) > 0),
    registered_name  text NOT NULL,
    registered_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    registered_by    name NOT NULL
);
COMMENT ON TABLE reset_system.nullify_columns IS
    'Foreign key columns of kept tables a reset sets to NULL where they point into emptied tables (see reset_register_nullify)';

CREATE TABLE reset_system.generic_references (
    tbl              pg_catalog.regclass NOT NULL,
    type_column      text NOT NULL,
    id_column        text NOT NULL,
    targets          jsonb,
    convention       text CHECK (convention IN ('django', 'rails')),
    registered_name  text NOT NULL,
    registered_at    timestamptz NOT NULL DEFAULT pg_catalog.now(),
    registered_by    name NOT NULL,
    PRIMARY KEY (tbl, type_column)
);
COMMENT ON TABLE reset_system.generic_references IS
    'Generic (type, id) references of kept tables: rows pointing at emptied tables are deleted by a reset (see reset_register_generic)';
SELECT pg_catalog.pg_extension_config_dump('reset_system.nullify_columns', '');
SELECT pg_catalog.pg_extension_config_dump('reset_system.generic_references', '');
REVOKE ALL ON reset_system.nullify_columns, reset_system.generic_references FROM PUBLIC;

CREATE FUNCTION reset_register_nullify(tbl regclass, columns text[])
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_register_nullify';
COMMENT ON FUNCTION reset_register_nullify(regclass, text[]) IS
    'Register foreign key columns of a kept table that a reset sets to NULL in the rows that point into a table it empties (for NO ACTION and RESTRICT foreign keys; ON DELETE SET NULL and SET DEFAULT are applied without it). Registering again replaces the columns.';
REVOKE ALL ON FUNCTION reset_register_nullify(regclass, text[]) FROM PUBLIC;

CREATE FUNCTION reset_unregister_nullify(tbl regclass)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_unregister_nullify';
COMMENT ON FUNCTION reset_unregister_nullify(regclass) IS
    'Forget the columns registered with reset_register_nullify for a table.';
REVOKE ALL ON FUNCTION reset_unregister_nullify(regclass) FROM PUBLIC;

CREATE FUNCTION reset_register_generic(tbl regclass, type_column text, id_column text,
                                       targets jsonb DEFAULT NULL, convention text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_register_generic';
COMMENT ON FUNCTION reset_register_generic(regclass, text, text, jsonb, text) IS
    'Register a generic reference (type_column, id_column) of a kept table: a reset deletes its rows whose type names a table it empties. targets maps type values to tables ({"Submission": "app.submissions"}); convention ''django'' reads content types, ''rails'' class names. Registering the same type column again replaces it.';
REVOKE ALL ON FUNCTION reset_register_generic(regclass, text, text, jsonb, text) FROM PUBLIC;

CREATE FUNCTION reset_unregister_generic(tbl regclass, type_column text DEFAULT NULL)
RETURNS void
LANGUAGE C VOLATILE
AS 'MODULE_PATHNAME', 'reset_unregister_generic';
COMMENT ON FUNCTION reset_unregister_generic(regclass, text) IS
    'Forget a generic reference of a table (the one with that type column, or all of the table''s).';
REVOKE ALL ON FUNCTION reset_unregister_generic(regclass, text) FROM PUBLIC;

-- The history and the purge totals, readable by operators through functions.
CREATE FUNCTION reset_history_detail(reset_id bigint DEFAULT NULL,
                                     OUT id bigint, OUT started_at timestamptz, OUT finished_at timestamptz,
                                     OUT role_name name, OUT session_role name, OUT database_name name,
                                     OUT environment text, OUT mode text, OUT plan_token text,
                                     OUT rows_deleted bigint, OUT deleted jsonb, OUT preserved jsonb,
                                     OUT rebuilt jsonb, OUT transaction_id xid8, OUT client_addr inet,
                                     OUT application_name text, OUT purge_objects bigint, OUT purged bigint,
                                     OUT purge_failed bigint, OUT purge_finished_at timestamptz,
                                     OUT terminated text[], OUT unlock_id bigint)
RETURNS SETOF record
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'reset_history_detail';
COMMENT ON FUNCTION reset_history_detail(bigint) IS
    'Every completed reset (or the one given), newest first, with every column of reset_system.history: per-table counts, preserved counts, what each rebuild step did, and the purge totals.';
REVOKE ALL ON FUNCTION reset_history_detail(bigint) FROM PUBLIC;

CREATE FUNCTION reset_purge_totals(reset_id bigint DEFAULT NULL,
                                   OUT id bigint, OUT reset_at timestamptz,
                                   OUT objects bigint, OUT purged bigint, OUT kept bigint,
                                   OUT cancelled bigint, OUT failed bigint, OUT pending bigint,
                                   OUT prefixes bigint, OUT prefixes_pending bigint, OUT prefixes_failed bigint,
                                   OUT uploads bigint, OUT uploaded bigint, OUT uploads_pending bigint,
                                   OUT uploads_failed bigint, OUT finished_at timestamptz)
RETURNS SETOF record
LANGUAGE C STABLE
AS 'MODULE_PATHNAME', 'reset_purge_totals';
COMMENT ON FUNCTION reset_purge_totals(bigint) IS
    'The storage purge of every completed reset (or the one given), newest first, counted from the queue now: objects (keys of storage columns and keys listed under prefixes) = purged + kept + cancelled + failed + pending; prefixes and uploads apart.';
REVOKE ALL ON FUNCTION reset_purge_totals(bigint) FROM PUBLIC;

COMMENT ON FUNCTION reset_grant_operator(regrole, boolean, boolean) IS
    'Grant a role what an operator needs: USAGE on the functions'' schema and EXECUTE on the plan, execute, purge, history, storage check, backup and restore functions; with can_unlock also reset_unlock/reset_lock; with can_configure also the registration functions and reset_seed_object. Returns the GRANT statements it ran, and lists what the role lacks on the registered tables.';
