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
