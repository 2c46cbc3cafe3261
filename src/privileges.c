/*-------------------------------------------------------------------------
 *
 * privileges.c
 *	  reset_grant_operator(): grant a role what an operator needs.
 *
 * Every function of the extension is revoked from PUBLIC at install.  An
 * operator needs USAGE on the schema of the functions and EXECUTE on the
 * plan, execute, purge, history, storage check, backup and restore
 * functions; unlocking a protected environment and changing the
 * registrations are separate grants.  reset_configure_storage() and this
 * function itself stay with superusers.  The README lists exactly what
 * each grant covers; keep both in step.
 *
 * The functions run with the caller's own rights on the application's
 * tables, so an operator also needs SELECT and TRUNCATE (and DELETE for
 * small tables) on the tables a reset empties, and must own their
 * sequences (TRUNCATE ... RESTART IDENTITY requires it).  This function
 * does not grant those: it reports what is missing, one line each.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "config.h"
#include "internal.h"
#include "reset_system.h"

PG_FUNCTION_INFO_V1(reset_grant_operator);

/*
 * What each grant covers.  Signatures follow the installed SQL version:
 * the library also serves a database still at 1.0 (ALTER EXTENSION ...
 * UPDATE not run yet), where the functions added in 1.1 do not exist.
 */
static const char *const operator_functions[] = {
	"reset_plan(boolean)", "reset_plan_json(boolean)", "reset_execute(text, text, boolean)", "reset_config()",
	"reset_history()", "reset_purge_status(bigint)", "reset_purge_wait(interval)",
	"reset_purge_retry()", "reset_purge_kick()", "reset_storage_check()",
	"reset_restore(bigint, text, text[])", "reset_restore_plan(bigint, text[])",
	"reset_backups()", "reset_backup_drop(bigint)"
};

/* read functions added in 1.1 */
static const char *const operator_functions_1_1[] = {
	"reset_history_detail(bigint)", "reset_purge_totals(bigint)"
};

static const char *const unlock_functions[] = {
	"reset_unlock(interval)", "reset_lock()"
};

static const char *const configure_functions[] = {
	"reset_register_table(regclass, text, text, text[], boolean)", "reset_register_schema(name, text[])",
	"reset_register_rebuild(text, text, boolean, text)", "reset_unregister(regclass)",
	"reset_unregister_rebuild(text)", "reset_register_prefix(text)",
	"reset_unregister_prefix(text)", "reset_seed_object(text, text)",
	"reset_register_nullify(regclass, text[])", "reset_unregister_nullify(regclass)",
	"reset_register_generic(regclass, text, text, jsonb, text)", "reset_unregister_generic(regclass, text)"
};

/* the same at 1.0, where the registration functions had fewer arguments */
static const char *const configure_functions_1_0[] = {
	"reset_register_table(regclass, text, text, text[])", "reset_register_schema(name, text[])",
	"reset_register_rebuild(text, text)", "reset_unregister(regclass)",
	"reset_unregister_rebuild(text)", "reset_register_prefix(text)",
	"reset_unregister_prefix(text)", "reset_seed_object(text, text)"
};

/*
 * grant_all: GRANT EXECUTE on each function, emitting each statement.
 */
static void
grant_all(Tuplestorestate *store, TupleDesc tupdesc, const char *schema,
		  const char *role, const char *const *functions, int n)
{
	for (int i = 0; i < n; i++)
	{
		char	   *sql = psprintf("GRANT EXECUTE ON FUNCTION %s.%s TO %s",
								   quote_identifier(schema), functions[i], role);
		Datum		v[1];
		bool		nulls[1] = {false};

		rs_spi(sql, 0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
		v[0] = CStringGetTextDatum(psprintf("%s;", sql));
		tuplestore_putvalues(store, tupdesc, v, nulls);
	}
}

/*
 * note: a line of advice in the result.
 */
static void
note(Tuplestorestate *store, TupleDesc tupdesc, char *text)
{
	Datum		v[1];
	bool		nulls[1] = {false};

	v[0] = CStringGetTextDatum(psprintf("-- %s", text));
	tuplestore_putvalues(store, tupdesc, v, nulls);
}

/*
 * reset_grant_operator(role regrole, can_unlock boolean DEFAULT false,
 *						can_configure boolean DEFAULT false)
 */
Datum
reset_grant_operator(PG_FUNCTION_ARGS)
{
	Oid			roleid;
	const char *role;
	char	   *schema;
	RsSession	s;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	RsConfig   *cfg;
	ListCell   *lc;
	Datum		v[1];
	bool		nulls[1] = {false};

	rs_require_writable("reset_grant_operator");
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"role\" of reset_grant_operator() must not be NULL")));
	roleid = PG_GETARG_OID(0);
	role = quote_identifier(GetUserNameFromId(roleid, false));

	store = rs_srf_begin(fcinfo, &tupdesc);
	rs_enter(&s);
	SPI_connect();
	rs_spi("SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_extension e"
		   " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
		   " WHERE e.extname OPERATOR(pg_catalog.=) 'reset_system'",
		   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	schema = rs_spi_text(0, 0);

	rs_spi(psprintf("GRANT USAGE ON SCHEMA %s TO %s", quote_identifier(schema), role),
		   0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
	v[0] = CStringGetTextDatum(psprintf("GRANT USAGE ON SCHEMA %s TO %s;", quote_identifier(schema), role));
	tuplestore_putvalues(store, tupdesc, v, nulls);
	grant_all(store, tupdesc, schema, role, operator_functions, lengthof(operator_functions));
	if (s.catalog_version >= RS_CATALOG_1_1)
		grant_all(store, tupdesc, schema, role, operator_functions_1_1, lengthof(operator_functions_1_1));
	if (!PG_ARGISNULL(1) && PG_GETARG_BOOL(1))
		grant_all(store, tupdesc, schema, role, unlock_functions, lengthof(unlock_functions));
	if (!PG_ARGISNULL(2) && PG_GETARG_BOOL(2))
	{
		if (s.catalog_version >= RS_CATALOG_1_1)
			grant_all(store, tupdesc, schema, role, configure_functions, lengthof(configure_functions));
		else
			grant_all(store, tupdesc, schema, role, configure_functions_1_0, lengthof(configure_functions_1_0));
	}

	/* what the role still lacks on the application's tables */
	cfg = rs_load_config(&s);
	foreach(lc, cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		char	   *name = rs_qualified_name(t->relid, false);
		List	   *missing = NIL;
		char	   *list;

		if (name == NULL)
			continue;
		if (pg_class_aclcheck(t->relid, roleid, ACL_SELECT) != ACLCHECK_OK)
			missing = lappend(missing, "SELECT");
		if (t->action == RS_ACTION_DELETE)
		{
			if (pg_class_aclcheck(t->relid, roleid, ACL_TRUNCATE) != ACLCHECK_OK)
				missing = lappend(missing, "TRUNCATE");
			if (pg_class_aclcheck(t->relid, roleid, ACL_DELETE) != ACLCHECK_OK)
				missing = lappend(missing, "DELETE");
		}
		if (missing == NIL)
			continue;
		if (t->action == RS_ACTION_DELETE)
		{
			ListCell   *lc2;

			foreach(lc2, getOwnedSequences(t->relid))
				if (!rs_class_ownercheck(lfirst_oid(lc2), roleid))
					note(store, tupdesc,
						 psprintf("%s does not own sequence %s of %s (TRUNCATE ... RESTART IDENTITY needs its owner's rights)",
								  role, rs_qualified_name(lfirst_oid(lc2), false), name));
		}
		if (missing == NIL)
			continue;
		{
			ListCell   *lc2;

			list = pstrdup((char *) linitial(missing));
			for_each_from(lc2, missing, 1)
				list = psprintf("%s, %s", list, (char *) lfirst(lc2));
		}
		note(store, tupdesc,
			 psprintf("%s still lacks %s on %s (a reset runs with the operator's own rights on the application's tables)",
					  role, list, name));
	}
	SPI_finish();
	rs_leave(&s);
	return (Datum) 0;
}
