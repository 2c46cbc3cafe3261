/* reset_system--1.0--1.1.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION reset_system UPDATE TO '1.1'" to load this file. \quit

/*
 * Upgrade from 1.0 to 1.1.  Every change here is also made in
 * reset_system--1.1.sql, so that a fresh install and an upgraded one end
 * with the same objects (test/t/060_upgrade.pl compares them).
 */

-- reset_register_rebuild gains allow_duplicate.  The new signature
-- replaces the old one; roles granted the old one keep their grant.
DO $$
DECLARE
    grantees text;
BEGIN
    SELECT pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(r.rolname), ', ') INTO grantees
    FROM pg_catalog.pg_proc p
    CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) a
    JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) a.grantee
    WHERE p.oid OPERATOR(pg_catalog.=) 'reset_register_rebuild(text, text)'::pg_catalog.regprocedure
      AND a.privilege_type OPERATOR(pg_catalog.=) 'EXECUTE'
      AND a.grantee OPERATOR(pg_catalog.<>) p.proowner;

    DROP FUNCTION reset_register_rebuild(text, text);
    CREATE FUNCTION reset_register_rebuild(label text, command text,
                                           allow_duplicate boolean DEFAULT false)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'reset_register_rebuild';
    REVOKE ALL ON FUNCTION reset_register_rebuild(text, text, boolean) FROM PUBLIC;
    IF grantees IS NOT NULL THEN
        EXECUTE 'GRANT EXECUTE ON FUNCTION reset_register_rebuild(text, text, boolean) TO ' OPERATOR(pg_catalog.||) grantees;
    END IF;
END
$$;
COMMENT ON FUNCTION reset_register_rebuild(text, text, boolean) IS
    'Register a rebuild step: SQL run after the deletes, in registration order, as the registering role. A command already registered under another label is refused unless allow_duplicate. The report says what it did (rows inserted, updated, deleted, or the integer it returned).';

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
