/*-------------------------------------------------------------------------
 *
 * internal.c
 *	  Running reset_system's own SQL safely.
 *
 * Every SQL-callable function of the extension starts with rs_enter() and
 * ends with rs_leave().  In between:
 *
 *	- search_path is pinned to "pg_catalog, pg_temp", so a function or
 *	  operator the caller created in their own schema can never stand in
 *	  for a built-in one inside our queries.  User SQL (rebuild steps) runs
 *	  under the caller's own search_path, restored around it.
 *	- the internal tables in schema reset_system are written with the
 *	  extension owner's rights (rs_as_owner_begin/end), the way referential
 *	  integrity triggers run as the table owner.  The caller needs no
 *	  privileges on them and cannot forge their rows; the caller's own
 *	  privileges still decide what happens to application tables.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <ctype.h>

#include "access/genam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "catalog/pg_type.h"
#include "postmaster/bgworker.h"
#include "access/tupdesc.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "internal.h"
#include "reset_system.h"

/*
 * rs_extension_lookup: the owner of the installed reset_system extension
 * and the version of its SQL objects (RS_CATALOG_1_0, ...).
 *
 * The library serves every released script version: a database still at
 * an older version (installed before the library was upgraded, not yet
 * ALTER EXTENSION ... UPDATEd) keeps working, and code that needs objects
 * of a newer script asks for the version first.  pg_extension has no
 * syscache before 16, so scan it by name through its unique index.
 */
static Oid
rs_extension_lookup(int *catalog_version)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			owner = InvalidOid;

	*catalog_version = 0;
	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(RS_EXTENSION_NAME));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Datum		d;
		bool		isnull;

		owner = ((Form_pg_extension) GETSTRUCT(tup))->extowner;
		d = heap_getattr(tup, Anum_pg_extension_extversion,
						 RelationGetDescr(rel), &isnull);
		if (!isnull)
			*catalog_version = rs_parse_catalog_version(TextDatumGetCString(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"%s\" is not installed in database \"%s\"",
						RS_EXTENSION_NAME, get_database_name(MyDatabaseId)),
				 errhint("Run CREATE EXTENSION %s; in this database.",
						 RS_EXTENSION_NAME)));
	return owner;
}

/*
 * rs_parse_catalog_version: "1.1" -> RS_CATALOG_1_1 (major * 100 + minor);
 * 0 for anything that is not "digits.digits" (never a version we wrote).
 */
int
rs_parse_catalog_version(const char *version)
{
	int			major = 0,
				minor = 0;
	const char *p = version;

	if (!isdigit((unsigned char) *p))
		return 0;
	while (isdigit((unsigned char) *p) && major < 1000)
		major = major * 10 + (*p++ - '0');
	if (*p++ != '.' || !isdigit((unsigned char) *p))
		return 0;
	while (isdigit((unsigned char) *p) && minor < 100)
		minor = minor * 10 + (*p++ - '0');
	if (*p != '\0' || minor >= 100)
		return 0;
	return major * 100 + minor;
}

/*
 * rs_catalog_version: the script version of the installed extension's SQL
 * objects, for code that runs without an RsSession (the purge worker).
 */
int
rs_catalog_version(void)
{
	int			version;

	(void) rs_extension_lookup(&version);
	return version;
}

/*
 * rs_application_name: what the audit trail records as the application
 * of this session.  That is the application_name setting; a background
 * worker that sets none (pg_cron runs jobs in one with
 * cron.use_background_workers = on) is named by its worker type instead,
 * so a scheduled reset is never anonymous in the history.
 */
const char *
rs_application_name(void)
{
	if (application_name != NULL && application_name[0] != '\0')
		return application_name;
	if (MyBgworkerEntry != NULL && MyBgworkerEntry->bgw_type[0] != '\0')
		return MyBgworkerEntry->bgw_type;
	return "";
}

/*
 * rs_extension_oid: OID of the installed extension (error if missing).
 */
Oid
rs_extension_oid(void)
{
	return get_extension_oid(RS_EXTENSION_NAME, false);
}

/*
 * rs_internal_schema_oid: OID of schema reset_system.
 */
Oid
rs_internal_schema_oid(void)
{
	return get_namespace_oid(RS_INTERNAL_SCHEMA, false);
}

/*
 * rs_require_writable: a function that changes the configuration checks,
 * before anything else, that it can write: not on a hot standby, not in a
 * read-only transaction.  Otherwise the first write fails deep inside,
 * with a message naming an internal statement instead of the function.
 */
void
rs_require_writable(const char *func)
{
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("%s() cannot change the reset configuration on a hot standby", func),
				 errdetail("This server is in recovery; it only replays changes from its primary."),
				 errhint("Run it in a read-write transaction on the primary server (where SELECT pg_is_in_recovery(); returns false).")));
	if (XactReadOnly)
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("%s() cannot change the reset configuration in a read-only transaction", func),
				 errhint("Run it in a read-write transaction (BEGIN READ WRITE, or SET default_transaction_read_only = off) on the primary server.")));
}

/*
 * rs_enter: pin search_path and remember who called us.
 */
void
rs_enter(RsSession *s)
{
	memset(s, 0, sizeof(*s));
	s->caller_role = GetUserId();
	s->caller_search_path = pstrdup(GetConfigOption("search_path", false, false));
	s->ext_owner = rs_extension_lookup(&s->catalog_version);
	s->guc_nest = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp",
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
}

/*
 * rs_leave: undo rs_enter (on the success path; an error unwinds the GUC
 * nest level and the user id by itself).
 */
void
rs_leave(RsSession *s)
{
	if (s->as_owner)
		rs_as_owner_end(s);
	AtEOXact_GUC(true, s->guc_nest);
}

/*
 * rs_use_caller_search_path: run user SQL under the caller's search_path.
 * Returns the nest level to hand to rs_restore_settings().
 */
int
rs_use_caller_search_path(RsSession *s)
{
	int			nest = NewGUCNestLevel();

	(void) set_config_option("search_path", s->caller_search_path,
							 PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	return nest;
}

/*
 * rs_restore_settings: end a nest level opened by rs_use_caller_search_path.
 */
void
rs_restore_settings(int nest)
{
	AtEOXact_GUC(true, nest);
}

/*
 * rs_as_owner_begin: act as the extension owner for internal tables.
 *
 * SECURITY_RESTRICTED_OPERATION keeps anything that runs meanwhile (there
 * should be nothing but our own INSERT/UPDATE) from changing session state.
 */
void
rs_as_owner_begin(RsSession *s)
{
	Assert(!s->as_owner);
	GetUserIdAndSecContext(&s->saved_userid, &s->saved_sec_context);
	SetUserIdAndSecContext(s->ext_owner,
						   s->saved_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	s->as_owner = true;
}

/*
 * rs_as_owner_end: back to the caller's identity.
 */
void
rs_as_owner_end(RsSession *s)
{
	Assert(s->as_owner);
	SetUserIdAndSecContext(s->saved_userid, s->saved_sec_context);
	s->as_owner = false;
}

/*
 * rs_spi: run one internal statement through SPI.
 *
 * "expected" is the SPI_OK_* code the statement must return (0 accepts
 * any success).  Failures here are bugs, not user errors, hence elog.
 */
int
rs_spi(const char *sql, int nargs, Oid *argtypes, Datum *values,
	   const char *nulls, bool read_only, int expected)
{
	int			ret;

	if (nargs > 0)
		ret = SPI_execute_with_args(sql, nargs, argtypes, values, nulls,
									read_only, 0);
	else
		ret = SPI_execute(sql, read_only, 0);

	if (ret < 0 || (expected != 0 && ret != expected))
		elog(ERROR, "reset_system: internal query failed (%s): %s",
			 SPI_result_code_string(ret), sql);
	return (int) SPI_processed;
}

/*
 * rs_spi_datum: one value of the last SPI result (0-based row and column).
 */
Datum
rs_spi_datum(int row, int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc,
						 col + 1, isnull);
}

/*
 * rs_spi_isnull: is that value NULL?
 */
bool
rs_spi_isnull(int row, int col)
{
	bool		isnull;

	(void) rs_spi_datum(row, col, &isnull);
	return isnull;
}

/*
 * rs_spi_text: a value as text (palloc'd in the current context), or NULL.
 */
char *
rs_spi_text(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col + 1);
}

/*
 * rs_spi_int64: a bigint value; if_null when NULL.
 */
int64
rs_spi_int64(int row, int col, int64 if_null)
{
	bool		isnull;
	Datum		d = rs_spi_datum(row, col, &isnull);

	return isnull ? if_null : DatumGetInt64(d);
}

/*
 * rs_spi_bool: a boolean value (NULL reads as false).
 */
bool
rs_spi_bool(int row, int col)
{
	bool		isnull;
	Datum		d = rs_spi_datum(row, col, &isnull);

	return isnull ? false : DatumGetBool(d);
}

/*
 * rs_spi_oid: an oid (or regclass, regrole, ...) value.
 */
Oid
rs_spi_oid(int row, int col)
{
	bool		isnull;
	Datum		d = rs_spi_datum(row, col, &isnull);

	return isnull ? InvalidOid : DatumGetObjectId(d);
}

/*
 * rs_qualified_name: "schema.table" for messages (quoted=false) or for SQL
 * (quoted=true).  NULL when the relation no longer exists.
 */
char *
rs_qualified_name(Oid relid, bool quoted)
{
	char	   *relname = get_rel_name(relid);
	char	   *nspname;

	if (relname == NULL)
		return NULL;
	nspname = get_namespace_name(get_rel_namespace(relid));
	if (nspname == NULL)
		return NULL;
	if (quoted)
		return quote_qualified_identifier(nspname, relname);
	return psprintf("%s.%s", nspname, relname);
}

/*
 * rs_srf_begin: set up a materialize-mode result for a set-returning
 * function and return the tuplestore to fill.  Written out rather than
 * using InitMaterializedSRF() so that it builds on every supported version.
 */
Tuplestorestate *
rs_srf_begin(FunctionCallInfo fcinfo, TupleDesc *tupdesc)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext oldcontext;
	Tuplestorestate *store;
	TupleDesc	desc;
	Oid			rettype;

	if (rsinfo == NULL || !IsA(rsinfo, ReturnSetInfo) ||
		(rsinfo->allowedModes & SFRM_Materialize) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("set-valued function called in context that cannot accept a set")));
	switch (get_call_result_type(fcinfo, &rettype, &desc))
	{
		case TYPEFUNC_COMPOSITE:
			break;
		case TYPEFUNC_SCALAR:
			/* SETOF a scalar type: a one-column tuple */
			desc = CreateTemplateTupleDesc(1);
			TupleDescInitEntry(desc, (AttrNumber) 1, "value", rettype, -1, 0);
			break;
		default:
			elog(ERROR, "return type must be a row type or a scalar");
	}

	oldcontext = MemoryContextSwitchTo(rsinfo->econtext->ecxt_per_query_memory);
	desc = CreateTupleDescCopy(desc);
	store = tuplestore_begin_heap(true, false, work_mem);
	rsinfo->returnMode = SFRM_Materialize;
	rsinfo->setResult = store;
	rsinfo->setDesc = desc;
	MemoryContextSwitchTo(oldcontext);

	*tupdesc = desc;
	return store;
}

/*
 * rs_text_array_to_list: a text[] datum as a List of C strings.  NULL
 * elements become NULL list members so callers can reject them.
 */
List *
rs_text_array_to_list(Datum array)
{
	ArrayType  *arr = DatumGetArrayTypeP(array);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	List	   *result = NIL;

	if (ARR_NDIM(arr) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("expected a one-dimensional array")));
	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, &nulls, &n);
	for (int i = 0; i < n; i++)
		result = lappend(result, nulls[i] ? NULL : TextDatumGetCString(elems[i]));
	return result;
}

/*
 * rs_list_to_text_array: the reverse of rs_text_array_to_list.
 */
Datum
rs_list_to_text_array(List *strings)
{
	int			n = list_length(strings);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i = 0;
	ListCell   *lc;

	foreach(lc, strings)
		elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false,
										   TYPALIGN_INT));
}

/*
 * rs_text_array_n: a text[] datum from n C strings (NULL entries become
 * NULL elements).
 */
Datum
rs_text_array_n(char **values, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	int			dims[1] = {n};
	int			lbs[1] = {1};

	for (int i = 0; i < n; i++)
	{
		nulls[i] = values[i] == NULL;
		elems[i] = nulls[i] ? (Datum) 0 : CStringGetTextDatum(values[i]);
	}
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs,
											  TEXTOID, -1, false, TYPALIGN_INT));
}

/*
 * rs_int8_array_n: a bigint[] datum from n values.
 */
Datum
rs_int8_array_n(int64 *values, int n)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = Int64GetDatum(values[i]);
	return PointerGetDatum(construct_array(elems, n, INT8OID, sizeof(int64),
										   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}
