/*-------------------------------------------------------------------------
 *
 * config.c
 *	  The configuration API: register tables and rebuild steps, list them,
 *	  and load them for a plan.
 *
 * Registrations live in reset_system.registered_tables and
 * reset_system.rebuild_steps (both dumped by pg_dump).  Every function
 * validates its input completely before writing anything, so a bad call
 * leaves the configuration exactly as it was.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "compat.h"
#include "config.h"
#include "internal.h"
#include "message.h"
#include "rebuild.h"
#include "render.h"
#include "reset_system.h"
#include "storage_config.h"

PG_FUNCTION_INFO_V1(reset_register_table);
PG_FUNCTION_INFO_V1(reset_register_rebuild);
PG_FUNCTION_INFO_V1(reset_unregister);
PG_FUNCTION_INFO_V1(reset_unregister_rebuild);
PG_FUNCTION_INFO_V1(reset_register_schema);
PG_FUNCTION_INFO_V1(reset_config);

/*
 * rs_action_name: the action as the SQL API spells it.
 */
const char *
rs_action_name(RsAction action)
{
	return action == RS_ACTION_DELETE ? "delete" : "preserve";
}

/*
 * rs_require_arg: argument "argname" of "func" must not be NULL.
 */
void
rs_require_arg(FunctionCallInfo fcinfo, int argno, const char *func,
			const char *argname)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"%s\" of %s() must not be NULL",
						argname, func)));
}

/*
 * check_label: labels appear in one-line report messages, so they must be
 * non-empty, short and free of control characters.
 */
static void
check_label(const char *label, const char *what)
{
	const unsigned char *p;

	if (label[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s label must not be empty", what)));
	if (strlen(label) > 200)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s label %s is longer than 200 bytes", what, rs_message_value(label))));
	for (p = (const unsigned char *) label; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s label must not contain control characters such as newlines", what)));
}

/*
 * parse_action: 'delete' or 'preserve', exactly.
 */
static RsAction
parse_action(const char *action, const char *tablename)
{
	if (strcmp(action, "delete") == 0)
		return RS_ACTION_DELETE;
	if (strcmp(action, "preserve") == 0)
		return RS_ACTION_PRESERVE;
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid action %s for table \"%s\"", rs_message_value(action), tablename),
			 errhint("Use 'delete' (a reset deletes its rows) or 'preserve' (a reset keeps them).")));
	return RS_ACTION_DELETE;	/* keep compiler quiet */
}

/*
 * rs_check_registrable_table: a table may be registered when it is an
 * ordinary or partitioned table (or a foreign table that is a partition or
 * inheritance child), permanent, and not part of the system or of
 * reset_system itself.  A partition or child may be registered: it is
 * then listed under its parent with its own label, and registering one
 * outside the schemas of registered tables is how an operator confirms
 * that a reset empties it with its parent.
 */
void
rs_check_registrable_table(Oid relid)
{
	HeapTuple	tup;
	Form_pg_class cls;
	char	   *name;
	char	   *nspname;
	const char *kind = NULL;

	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid),
				 errhint("Pass the table by name, for example 'public.orders'.")));
	cls = (Form_pg_class) GETSTRUCT(tup);
	nspname = get_namespace_name(cls->relnamespace);
	name = psprintf("%s.%s", nspname, NameStr(cls->relname));

	switch (cls->relkind)
	{
		case RELKIND_RELATION:
		case RELKIND_PARTITIONED_TABLE:
			break;
		case RELKIND_VIEW:
			kind = "a view";
			break;
		case RELKIND_MATVIEW:
			kind = "a materialized view";
			break;
		case RELKIND_FOREIGN_TABLE:
			if (!cls->relispartition && !has_superclass(relid))
				kind = "a foreign table";
			break;
		case RELKIND_SEQUENCE:
			kind = "a sequence";
			break;
		default:
			kind = "not a table";
			break;
	}
	if (kind != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a table", name),
				 errdetail("\"%s\" is %s; only ordinary and partitioned tables can be registered.",
						   name, kind)));

	if (cls->relpersistence == RELPERSISTENCE_TEMP)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("cannot register temporary table \"%s\"", name),
				 errdetail("Temporary tables disappear with the session that created them.")));

	if (IsCatalogNamespace(cls->relnamespace) ||
		IsToastNamespace(cls->relnamespace) ||
		strcmp(nspname, "information_schema") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot register system table \"%s\"", name)));

	if (cls->relnamespace == rs_internal_schema_oid())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot register \"%s\": it is one of reset_system's own tables", name),
				 errdetail("Schema \"%s\" holds the reset configuration, history and purge queue.",
						   RS_INTERNAL_SCHEMA)));

	ReleaseSysCache(tup);
}

/*
 * rs_storage_column_state: can column of relid be read as storage keys
 * now?  *type is set to its type when it exists.  Storage columns hold
 * object keys: text, varchar, char, or a domain over one of them.
 */
RsColumnState
rs_storage_column_state(Oid relid, const char *column, Oid *type)
{
	AttrNumber	attnum = get_attnum(relid, column);
	Oid			base;

	*type = InvalidOid;
	if (attnum == InvalidAttrNumber)
		return RS_COLUMN_MISSING;
	if (attnum < 0)
		return RS_COLUMN_SYSTEM;
	*type = get_atttype(relid, attnum);
	base = getBaseType(*type);
	if (base != TEXTOID && base != VARCHAROID && base != BPCHAROID)
		return RS_COLUMN_NOT_TEXT;
	return RS_COLUMN_OK;
}

/*
 * rs_register_table_call: the reset_register_table() call that registers
 * relid with this action, label and storage columns, for the fixes a plan
 * suggests.
 */
char *
rs_register_table_call(Oid relid, RsAction action, const char *label, List *storage_columns)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT reset_register_table(%s, '%s', %s",
					 quote_literal_cstr(rs_qualified_name(relid, true)), rs_action_name(action),
					 quote_literal_cstr(label));
	if (storage_columns != NIL)
	{
		appendStringInfoString(&buf, ", ARRAY[");
		foreach(lc, storage_columns)
			appendStringInfo(&buf, "%s%s", lc == list_head(storage_columns) ? "" : ", ",
							 quote_literal_cstr((char *) lfirst(lc)));
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoString(&buf, ");");
	return buf.data;
}

/*
 * rs_register_table_call_force: the reset_register_table() call that
 * registers a migration-history table for deletion on purpose.
 */
char *
rs_register_table_call_force(Oid relid, const char *label, List *storage_columns)
{
	char	   *call = rs_register_table_call(relid, RS_ACTION_DELETE, label, storage_columns);

	/* "...);" becomes "..., force => true);" */
	call[strlen(call) - 2] = '\0';
	return psprintf("%s, force => true);", call);
}

/*
 * check_storage_columns: every name is a distinct, existing column of a
 * text-like type (text, varchar, char, or a domain over one of them).
 */
static void
check_storage_columns(Oid relid, List *columns)
{
	ListCell   *lc;
	List	   *seen = NIL;
	char	   *tablename = rs_qualified_name(relid, false);

	foreach(lc, columns)
	{
		char	   *col = (char *) lfirst(lc);
		Oid			typid;

		if (col == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("storage_columns of table \"%s\" must not contain NULL", tablename)));
		if (list_member(seen, makeString(col)))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("column %s appears twice in storage_columns of table \"%s\"",
							rs_message_value(col), tablename)));
		seen = lappend(seen, makeString(col));

		switch (rs_storage_column_state(relid, col, &typid))
		{
			case RS_COLUMN_MISSING:
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_COLUMN),
						 errmsg("column %s of table \"%s\" does not exist", rs_message_value(col), tablename),
						 errhint("storage_columns names the columns that hold storage object keys; column names are case-sensitive.")));
				break;
			case RS_COLUMN_SYSTEM:
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("system column %s cannot be a storage column", rs_message_value(col))));
				break;
			case RS_COLUMN_NOT_TEXT:
				ereport(ERROR,
						(errcode(ERRCODE_DATATYPE_MISMATCH),
						 errmsg("column \"%s\" of table \"%s\" is of type %s, not text",
								col, tablename, format_type_be(typid)),
						 errdetail("Storage columns hold object keys and must be text, varchar or char.")));
				break;
			case RS_COLUMN_OK:
				break;
		}
	}
}

/*
 * check_register_rights: registering a table for deletion needs DELETE or
 * TRUNCATE on it, for preservation SELECT, so a role allowed to register
 * tables cannot point a reset (run later by a more privileged role) at a
 * table it could not touch itself.
 */
static void
check_register_rights(Oid relid, RsAction action, Oid role)
{
	char	   *name = rs_qualified_name(relid, false);
	char	   *rolename = GetUserNameFromId(role, false);

	if (action == RS_ACTION_DELETE &&
		rs_class_aclcheck(relid, role, ACL_DELETE) != ACLCHECK_OK &&
		rs_class_aclcheck(relid, role, ACL_TRUNCATE) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to register table \"%s\" for deletion", name),
				 errdetail("Registering a table for deletion needs the DELETE or TRUNCATE privilege on it; role \"%s\" has neither.",
						   rolename),
				 errhint("Register it as a role that may empty it, or grant the privilege first: GRANT DELETE, TRUNCATE ON %s TO %s;",
						 rs_qualified_name(relid, true), quote_identifier(rolename))));
	if (action == RS_ACTION_PRESERVE &&
		rs_class_aclcheck(relid, role, ACL_SELECT) != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to register table \"%s\" for preservation", name),
				 errdetail("Registering a table for preservation needs the SELECT privilege on it; role \"%s\" lacks it.",
						   rolename),
				 errhint("Register it as a role that may read it, or grant the privilege first: GRANT SELECT ON %s TO %s;",
						 rs_qualified_name(relid, true), quote_identifier(rolename))));
}

/*
 * rs_str_member: is s in the List of C strings?
 */
bool
rs_str_member(List *strings, const char *s)
{
	ListCell   *lc;

	foreach(lc, strings)
		if (strcmp((char *) lfirst(lc), s) == 0)
			return true;
	return false;
}

/*
 * rs_columns_text: {a, b} for messages.
 */
char *
rs_columns_text(List *columns)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	foreach(lc, columns)
		appendStringInfo(&buf, "%s%s", lc == list_head(columns) ? "" : ", ", (char *) lfirst(lc));
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * report_reregistration: registering a table again replaces its
 * registration; say what changed (a NOTICE), and warn when storage
 * columns are no longer registered: the files they reference would no
 * longer be purged.
 */
static void
report_reregistration(Oid relid, const char *old_action, const char *old_label,
					  List *old_columns, bool old_force, RsAction action, const char *label,
					  List *columns, bool force)
{
	StringInfoData changes;
	List	   *dropped = NIL;
	ListCell   *lc;
	char	   *name = rs_qualified_name(relid, false);
	bool		same_columns = list_length(old_columns) == list_length(columns);

	initStringInfo(&changes);
	if (strcmp(old_action, rs_action_name(action)) != 0)
		appendStringInfo(&changes, "action %s -> %s", old_action, rs_action_name(action));
	if (strcmp(old_label, label) != 0)
		appendStringInfo(&changes, "%slabel \"%s\" -> \"%s\"", changes.len ? ", " : "", old_label, label);
	foreach(lc, old_columns)
		if (!rs_str_member(columns, (char *) lfirst(lc)))
			dropped = lappend(dropped, lfirst(lc));
	foreach(lc, columns)
		if (!rs_str_member(old_columns, (char *) lfirst(lc)))
			same_columns = false;
	if (!same_columns || dropped != NIL)
		appendStringInfo(&changes, "%sstorage columns %s -> %s", changes.len ? ", " : "",
						 rs_columns_text(old_columns), rs_columns_text(columns));
	if (old_force != force)
		appendStringInfo(&changes, "%sforce %s -> %s", changes.len ? ", " : "",
						 old_force ? "true" : "false", force ? "true" : "false");

	if (changes.len == 0)
		ereport(NOTICE,
				(errmsg("table \"%s\" was already registered like this; nothing changed", name)));
	else
		ereport(NOTICE,
				(errmsg("table \"%s\" was already registered; its registration is replaced: %s",
						name, changes.data)));
	if (dropped != NIL)
	{
		List	   *restorable = NIL;
		Oid			type;

		/* the hint offers only columns that can still be registered */
		foreach(lc, dropped)
			if (rs_storage_column_state(relid, (char *) lfirst(lc), &type) == RS_COLUMN_OK)
				restorable = lappend(restorable, lfirst(lc));
		ereport(WARNING,
				(errmsg("storage column(s) %s of table \"%s\" are no longer registered",
						rs_columns_text(dropped), name),
				 errdetail("A reset will no longer purge the files that deleted rows reference there, "
						   "and the purge will no longer keep a file because a row references it there."),
				 restorable != NIL
				 ? errhint("To keep them registered, register the table again with them: %s",
						   rs_register_table_call(relid, action, label,
												  list_concat(list_copy(columns), restorable)))
				 : 0));
	}
}

/*
 * reset_register_table(tbl regclass, action text, label text DEFAULT NULL,
 *						storage_columns text[] DEFAULT '{}', force boolean DEFAULT false)
 *
 * Register a table for deletion or preservation; registering it again
 * replaces the earlier registration, and a NOTICE says what changed.  A
 * migration-history table registered for deletion blocks every plan
 * unless force is set (a WARNING says so now).  The library serves the
 * 1.0 signature (without force) too.
 */
Datum
reset_register_table(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *action_str;
	RsAction	action;
	char	   *label;
	List	   *columns = NIL;
	bool		force = PG_NARGS() >= 5 && !PG_ARGISNULL(4) && PG_GETARG_BOOL(4);
	char	   *name;
	const char *tool;
	RsSession	s;
	Oid			argtypes[7] = {OIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, NAMEOID, BOOLOID};
	Datum		values[7];
	char	   *old_action = NULL;
	char	   *old_label = NULL;
	List	   *old_columns = NIL;
	bool		old_force = false;

	rs_require_writable("reset_register_table");
	rs_require_arg(fcinfo, 0, "reset_register_table", "tbl");
	rs_require_arg(fcinfo, 1, "reset_register_table", "action");
	relid = PG_GETARG_OID(0);
	action_str = text_to_cstring(PG_GETARG_TEXT_PP(1));

	rs_enter(&s);
	rs_check_registrable_table(relid);
	name = rs_qualified_name(relid, false);
	action = parse_action(action_str, name);

	if (PG_ARGISNULL(2))
		label = get_rel_name(relid);
	else
		label = text_to_cstring(PG_GETARG_TEXT_PP(2));
	check_label(label, "table");

	if (!PG_ARGISNULL(3))
		columns = rs_text_array_to_list(PG_GETARG_DATUM(3));
	check_storage_columns(relid, columns);
	check_register_rights(relid, action, s.caller_role);
	if (action != RS_ACTION_DELETE)
		force = false;			/* only deletion is ever forced */

	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(rs_action_name(action));
	values[2] = CStringGetTextDatum(label);
	values[3] = rs_list_to_text_array(columns);
	values[4] = CStringGetTextDatum(rs_qualified_name(relid, true));
	values[5] = DirectFunctionCall1(namein,
									CStringGetDatum(GetUserNameFromId(s.caller_role, false)));
	values[6] = BoolGetDatum(force);

	SPI_connect();
	rs_as_owner_begin(&s);
	if (rs_spi(s.catalog_version >= RS_CATALOG_1_1
			   ? "SELECT action, label, storage_columns, force FROM reset_system.registered_tables"
			   " WHERE tbl OPERATOR(pg_catalog.=) $1::pg_catalog.regclass FOR UPDATE"
			   : "SELECT action, label, storage_columns, false FROM reset_system.registered_tables"
			   " WHERE tbl OPERATOR(pg_catalog.=) $1::pg_catalog.regclass FOR UPDATE",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT) > 0)
	{
		bool		isnull;
		Datum		cols = rs_spi_datum(0, 2, &isnull);

		old_action = rs_spi_text(0, 0);
		old_label = rs_spi_text(0, 1);
		old_columns = isnull ? NIL : rs_text_array_to_list(cols);
		old_force = rs_spi_bool(0, 3);
	}
	if (s.catalog_version >= RS_CATALOG_1_1)
		rs_spi("INSERT INTO reset_system.registered_tables AS r"
			   " (tbl, action, label, storage_columns, registered_name, registered_by, force)"
			   " VALUES ($1::pg_catalog.regclass, $2, $3, $4, $5, $6, $7)"
			   " ON CONFLICT (tbl) DO UPDATE SET action = EXCLUDED.action,"
			   " label = EXCLUDED.label, storage_columns = EXCLUDED.storage_columns,"
			   " registered_name = EXCLUDED.registered_name,"
			   " registered_at = pg_catalog.now(), registered_by = EXCLUDED.registered_by,"
			   " force = EXCLUDED.force",
			   7, argtypes, values, NULL, false, SPI_OK_INSERT);
	else
		rs_spi("INSERT INTO reset_system.registered_tables AS r"
			   " (tbl, action, label, storage_columns, registered_name, registered_by)"
			   " VALUES ($1::pg_catalog.regclass, $2, $3, $4, $5, $6)"
			   " ON CONFLICT (tbl) DO UPDATE SET action = EXCLUDED.action,"
			   " label = EXCLUDED.label, storage_columns = EXCLUDED.storage_columns,"
			   " registered_name = EXCLUDED.registered_name,"
			   " registered_at = pg_catalog.now(), registered_by = EXCLUDED.registered_by",
			   6, argtypes, values, NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(&s);
	if (old_action != NULL)
		report_reregistration(relid, old_action, old_label, old_columns, old_force,
							  action, label, columns, force);

	/* deleting a migration history is refused by every plan, unless forced */
	tool = rs_migration_tool(relid);
	if (tool != NULL && action == RS_ACTION_DELETE && !force)
		ereport(WARNING,
				(errmsg("table \"%s\" holds the migration history of %s; every plan is blocked while it is registered for deletion",
						name, tool),
				 errdetail("After a reset every migration would show as unapplied, and the next migration run "
						   "would fail on the tables that exist."),
				 errhint("Keep it: %s%s",
						 rs_register_table_call(relid, RS_ACTION_PRESERVE, label, columns),
						 s.catalog_version >= RS_CATALOG_1_1
						 ? psprintf(" or, to delete it on purpose: %s",
									rs_register_table_call_force(relid, label, columns))
						 : "")));
	SPI_finish();
	rs_leave(&s);

	PG_RETURN_VOID();
}

/*
 * check_duplicate: a command already registered under another label would
 * run twice in every reset (and seed its rows twice); refused unless the
 * caller says so.  Commands are compared with white space collapsed.
 */
static void
check_duplicate(RsSession *s, const char *label, const char *command)
{
	char	   *norm = rs_rebuild_normalize(command);
	int			n;

	n = rs_spi("SELECT label, command FROM reset_system.rebuild_steps ORDER BY position",
			   0, NULL, NULL, NULL, true, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		char	   *other = rs_spi_text(i, 0);

		if (strcmp(other, label) != 0 &&
			strcmp(rs_rebuild_normalize(rs_spi_text(i, 1)), norm) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_OBJECT),
					 errmsg("the command of rebuild step \"%s\" is already registered as rebuild step \"%s\"",
							label, other),
					 errdetail("Every reset would run it twice, and rebuild its rows twice."),
					 errhint("To change step \"%s\", register it again under that label; "
							 "if running the command twice is intended, pass allow_duplicate => true%s.",
							 other, s->catalog_version >= RS_CATALOG_1_1 ? ""
							 : " (after ALTER EXTENSION reset_system UPDATE;)")));
	}
}

/*
 * report_rebuild_reregistration: registering a label again replaces its
 * command (the step keeps its place); say what changed.
 */
static void
report_rebuild_reregistration(const char *label, int position, const char *old_command,
							  const char *old_role, const char *old_path, const char *old_phase,
							  const char *command, const char *role, const char *path,
							  const char *phase)
{
	StringInfoData changes;

	initStringInfo(&changes);
	if (strcmp(old_command, command) != 0)
		appendStringInfo(&changes, "command %s -> %s", quote_literal_cstr(rs_one_line(old_command, 60)),
						 quote_literal_cstr(rs_one_line(command, 60)));
	if (strcmp(old_role, role) != 0)
		appendStringInfo(&changes, "%sruns as \"%s\" -> \"%s\"", changes.len ? ", " : "", old_role, role);
	if (strcmp(old_path, path) != 0)
		appendStringInfo(&changes, "%ssearch_path '%s' -> '%s'", changes.len ? ", " : "", old_path, path);
	if (strcmp(old_phase, phase) != 0)
		appendStringInfo(&changes, "%sphase %s -> %s", changes.len ? ", " : "", old_phase, phase);
	if (changes.len == 0)
		ereport(NOTICE,
				(errmsg("rebuild step \"%s\" was already registered like this; nothing changed", label)));
	else
		ereport(NOTICE,
				(errmsg("rebuild step \"%s\" was already registered; it keeps its place (%d) and is replaced: %s",
						label, position, changes.data)));
}

/*
 * parse_phase: 'after' (the default: after the deletes) or 'before' (after
 * the locks, before the deletes), exactly.  A database still at 1.0 has
 * no phase column: only 'after' exists there.
 */
static const char *
parse_phase(RsSession *s, FunctionCallInfo fcinfo, int argno)
{
	char	   *phase;

	if (PG_NARGS() <= argno || PG_ARGISNULL(argno))
		return "after";
	phase = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	if (strcmp(phase, "after") != 0 && strcmp(phase, "before") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid phase %s for a rebuild step", rs_message_value(phase)),
				 errhint("Use 'after' (after the deletes, the default) or 'before' (after the locks, before the deletes).")));
	if (strcmp(phase, "before") == 0 && s->catalog_version < RS_CATALOG_1_1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("steps that run before the deletes need version 1.1 of the extension's SQL objects"),
				 errhint("ALTER EXTENSION reset_system UPDATE;")));
	return phase;
}

/*
 * reset_register_rebuild(label text, command text,
 *						  allow_duplicate boolean DEFAULT false,
 *						  phase text DEFAULT 'after')
 *
 * Register a rebuild step, run in registration order: after the deletes
 * (phase 'after'), or after the locks and before the deletes (phase
 * 'before', for what no declarative rule covers).  Registering an
 * existing label replaces its command and phase and keeps its place (a
 * NOTICE says what changed).  The step will run as the role registering
 * it, with the search_path in effect now: whoever executes the reset, and
 * whatever their own search_path holds, the step does the same thing (and
 * a role allowed to register steps cannot make a more privileged executor
 * run its SQL).  The library serves the 1.0 signature (label, command)
 * too: allow_duplicate is then false and the phase 'after'.
 */
Datum
reset_register_rebuild(PG_FUNCTION_ARGS)
{
	char	   *label;
	char	   *command;
	bool		allow_duplicate = PG_NARGS() >= 3 && !PG_ARGISNULL(2) && PG_GETARG_BOOL(2);
	const char *phase;
	char	   *role;
	RsSession	s;
	Oid			argtypes[5] = {TEXTOID, TEXTOID, NAMEOID, TEXTOID, TEXTOID};
	Datum		values[5];
	bool		v11;

	rs_require_writable("reset_register_rebuild");
	rs_require_arg(fcinfo, 0, "reset_register_rebuild", "label");
	rs_require_arg(fcinfo, 1, "reset_register_rebuild", "command");
	label = text_to_cstring(PG_GETARG_TEXT_PP(0));
	command = text_to_cstring(PG_GETARG_TEXT_PP(1));

	rs_enter(&s);
	v11 = s.catalog_version >= RS_CATALOG_1_1;
	phase = parse_phase(&s, fcinfo, 3);
	check_label(label, "rebuild step");
	rs_rebuild_check_command(&s, label, command);
	role = GetUserNameFromId(s.caller_role, false);

	values[0] = CStringGetTextDatum(label);
	values[1] = CStringGetTextDatum(command);
	values[2] = DirectFunctionCall1(namein, CStringGetDatum(role));
	values[3] = CStringGetTextDatum(s.caller_search_path);
	values[4] = CStringGetTextDatum(phase);

	SPI_connect();
	rs_as_owner_begin(&s);
	/* serialize position assignment between concurrent registrations */
	rs_spi("LOCK TABLE reset_system.rebuild_steps IN SHARE ROW EXCLUSIVE MODE",
		   0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
	if (!allow_duplicate)
		check_duplicate(&s, label, command);
	if (rs_spi(v11
			   ? "SELECT command, registered_by::pg_catalog.text, search_path, position, phase"
			   " FROM reset_system.rebuild_steps WHERE label OPERATOR(pg_catalog.=) $1"
			   : "SELECT command, registered_by::pg_catalog.text, search_path, position, 'after'"
			   " FROM reset_system.rebuild_steps WHERE label OPERATOR(pg_catalog.=) $1",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT) > 0)
		report_rebuild_reregistration(label, (int) rs_spi_int64(0, 3, 0), rs_spi_text(0, 0),
									  rs_spi_text(0, 1), rs_spi_text(0, 2), rs_spi_text(0, 4),
									  command, role, s.caller_search_path, phase);
	if (v11)
		rs_spi("INSERT INTO reset_system.rebuild_steps AS r"
			   " (label, command, position, registered_by, search_path, phase)"
			   " SELECT $1, $2, COALESCE(pg_catalog.max(position), 0) OPERATOR(pg_catalog.+) 1, $3, $4, $5"
			   " FROM reset_system.rebuild_steps"
			   " ON CONFLICT (label) DO UPDATE SET command = EXCLUDED.command,"
			   " search_path = EXCLUDED.search_path, phase = EXCLUDED.phase,"
			   " registered_at = pg_catalog.now(), registered_by = EXCLUDED.registered_by",
			   5, argtypes, values, NULL, false, SPI_OK_INSERT);
	else
		rs_spi("INSERT INTO reset_system.rebuild_steps AS r"
			   " (label, command, position, registered_by, search_path)"
			   " SELECT $1, $2, COALESCE(pg_catalog.max(position), 0) OPERATOR(pg_catalog.+) 1, $3, $4"
			   " FROM reset_system.rebuild_steps"
			   " ON CONFLICT (label) DO UPDATE SET command = EXCLUDED.command,"
			   " search_path = EXCLUDED.search_path,"
			   " registered_at = pg_catalog.now(), registered_by = EXCLUDED.registered_by",
			   4, argtypes, values, NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);

	PG_RETURN_VOID();
}

/*
 * reset_unregister(tbl regclass): forget a table's registration.
 */
Datum
reset_unregister(PG_FUNCTION_ARGS)
{
	Oid			relid;
	RsSession	s;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	int			n;

	rs_require_writable("reset_unregister");
	rs_require_arg(fcinfo, 0, "reset_unregister", "tbl");
	relid = PG_GETARG_OID(0);
	values[0] = ObjectIdGetDatum(relid);

	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	n = rs_spi("DELETE FROM reset_system.registered_tables"
			   " WHERE tbl OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
			   1, argtypes, values, NULL, false, SPI_OK_DELETE);
	rs_as_owner_end(&s);
	SPI_finish();

	if (n == 0)
	{
		char	   *name = rs_qualified_name(relid, false);

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 name ? errmsg("table \"%s\" is not registered", name)
				 : errmsg("no table with OID %u is registered", relid),
				 errhint("SELECT * FROM reset_config(); lists what is registered.")));
	}
	rs_leave(&s);
	PG_RETURN_VOID();
}

/*
 * reset_unregister_rebuild(label text): forget a rebuild step.
 */
Datum
reset_unregister_rebuild(PG_FUNCTION_ARGS)
{
	char	   *label;
	RsSession	s;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	int			n;

	rs_require_writable("reset_unregister_rebuild");
	rs_require_arg(fcinfo, 0, "reset_unregister_rebuild", "label");
	label = text_to_cstring(PG_GETARG_TEXT_PP(0));
	values[0] = CStringGetTextDatum(label);

	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	n = rs_spi("DELETE FROM reset_system.rebuild_steps"
			   " WHERE label OPERATOR(pg_catalog.=) $1",
			   1, argtypes, values, NULL, false, SPI_OK_DELETE);
	rs_as_owner_end(&s);
	SPI_finish();
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("rebuild step %s is not registered", rs_message_value(label)),
				 errhint("SELECT * FROM reset_config(); lists what is registered.")));
	rs_leave(&s);
	PG_RETURN_VOID();
}

/*
 * reset_register_schema(schema_name name, except_tables text[] DEFAULT '{}')
 *
 * Register every table of a schema for deletion, except the named ones,
 * which are registered for preservation (the "wipe everything but the
 * users" case), and the history tables of common migration tools, which
 * are preserved without being named (forgetting them would make every
 * migration look unapplied after a reset; the result says so).  Tables
 * that are already registered keep their registration: this never turns
 * a preserved table into a deleted one.  Partitions, inheritance children
 * of tables in the same schema and tables belonging to extensions are
 * left out.  Returns one row per table.
 */
Datum
reset_register_schema(PG_FUNCTION_ARGS)
{
	char	   *schema;
	Oid			nspoid;
	List	   *except = NIL;
	List	   *found = NIL;
	ListCell   *lc;
	RsSession	s;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	Oid			argtypes[3] = {OIDOID, TEXTOID, NAMEOID};
	Datum		values[3];
	int			n;

	rs_require_writable("reset_register_schema");
	rs_require_arg(fcinfo, 0, "reset_register_schema", "schema_name");
	schema = NameStr(*PG_GETARG_NAME(0));
	if (!PG_ARGISNULL(1))
		except = rs_text_array_to_list(PG_GETARG_DATUM(1));

	store = rs_srf_begin(fcinfo, &tupdesc);
	rs_enter(&s);

	nspoid = get_namespace_oid(schema, false);
	if (IsCatalogNamespace(nspoid) || IsToastNamespace(nspoid) ||
		strcmp(schema, "information_schema") == 0 ||
		nspoid == rs_internal_schema_oid())
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("cannot register the tables of schema \"%s\"", schema),
				 errdetail("It is a system schema or reset_system's own schema.")));

	foreach(lc, except)
	{
		char	   *t = (char *) lfirst(lc);

		if (t == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("except_tables must not contain NULL")));
		if (!OidIsValid(get_relname_relid(t, nspoid)))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table %s listed in except_tables does not exist in schema \"%s\"",
							rs_message_value(t), schema),
					 errhint("List table names without the schema; names are case-sensitive.")));
	}

	SPI_connect();
	values[0] = ObjectIdGetDatum(nspoid);

	/*
	 * Candidate tables: permanent ordinary/partitioned tables that are not
	 * partitions, not extension members, and not inheritance children of
	 * another table of the same schema.
	 */
	n = rs_spi("SELECT c.oid, c.relname::pg_catalog.text"
			   " FROM pg_catalog.pg_class c"
			   " WHERE c.relnamespace OPERATOR(pg_catalog.=) $1"
			   "   AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r','p']::pg_catalog.\"char\"[])"
			   "   AND c.relpersistence OPERATOR(pg_catalog.<>) 't'"
			   "   AND NOT c.relispartition"
			   "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
			   "        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
			   "          AND d.objid OPERATOR(pg_catalog.=) c.oid"
			   "          AND d.deptype OPERATOR(pg_catalog.=) 'e')"
			   "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i"
			   "        JOIN pg_catalog.pg_class p ON p.oid OPERATOR(pg_catalog.=) i.inhparent"
			   "        WHERE i.inhrelid OPERATOR(pg_catalog.=) c.oid"
			   "          AND p.relnamespace OPERATOR(pg_catalog.=) $1)"
			   " ORDER BY c.relname",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		found = lappend_oid(found, rs_spi_oid(i, 0));
	}

	/* the caller needs the rights registering needs, on every new table */
	foreach(lc, found)
	{
		Oid			relid = lfirst_oid(lc);
		char	   *relname = get_rel_name(relid);
		bool		excepted = false;
		ListCell   *lc2;

		foreach(lc2, except)
			if (strcmp((char *) lfirst(lc2), relname) == 0)
				excepted = true;
		if (rs_migration_tool(relid) != NULL)
			excepted = true;
		values[0] = ObjectIdGetDatum(relid);
		rs_as_owner_begin(&s);
		n = rs_spi("SELECT 1 FROM reset_system.registered_tables"
				   " WHERE tbl OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
				   1, argtypes, values, NULL, false, SPI_OK_SELECT);
		rs_as_owner_end(&s);
		if (n == 0)
			check_register_rights(relid, excepted ? RS_ACTION_PRESERVE : RS_ACTION_DELETE,
								  s.caller_role);
	}

	rs_as_owner_begin(&s);
	foreach(lc, found)
	{
		Oid			relid = lfirst_oid(lc);
		char	   *relname = get_rel_name(relid);
		bool		excepted = false;
		ListCell   *lc2;
		Datum		outvals[3];
		bool		outnulls[3] = {false, false, false};
		const char *action;
		const char *status;
		const char *tool = NULL;

		foreach(lc2, except)
			if (strcmp((char *) lfirst(lc2), relname) == 0)
				excepted = true;
		if (!excepted)
		{
			tool = rs_migration_tool(relid);
			excepted = tool != NULL;
		}
		action = excepted ? "preserve" : "delete";

		values[0] = ObjectIdGetDatum(relid);
		if (rs_spi("SELECT action FROM reset_system.registered_tables"
				   " WHERE tbl OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
				   1, argtypes, values, NULL, false, SPI_OK_SELECT) > 0)
		{
			action = pstrdup(rs_spi_text(0, 0));
			status = "already registered, kept";
		}
		else
		{
			Datum		ins[6];
			Oid			instypes[6] = {OIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, NAMEOID};

			ins[0] = ObjectIdGetDatum(relid);
			ins[1] = CStringGetTextDatum(action);
			ins[2] = CStringGetTextDatum(relname);
			ins[3] = rs_list_to_text_array(NIL);
			ins[4] = CStringGetTextDatum(rs_qualified_name(relid, true));
			ins[5] = DirectFunctionCall1(namein,
										 CStringGetDatum(GetUserNameFromId(s.caller_role, false)));
			rs_spi("INSERT INTO reset_system.registered_tables"
				   " (tbl, action, label, storage_columns, registered_name, registered_by)"
				   " VALUES ($1::pg_catalog.regclass, $2, $3, $4, $5, $6)",
				   6, instypes, ins, NULL, false, SPI_OK_INSERT);
			status = tool ? psprintf("registered: the migration history of %s, preserved", tool)
				: "registered";
		}

		outvals[0] = ObjectIdGetDatum(relid);
		outvals[1] = CStringGetTextDatum(action);
		outvals[2] = CStringGetTextDatum(status);
		tuplestore_putvalues(store, tupdesc, outvals, outnulls);
	}
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);

	return (Datum) 0;
}

/*
 * rs_load_config: read the registrations (inside an SPI connection),
 * with the extension owner's rights when s is given.
 * Tables come back ordered by action (delete first) and registered name;
 * rebuild steps in registration order.
 */
RsConfig *
rs_load_config(RsSession *s)
{
	RsConfig   *cfg = palloc0(sizeof(RsConfig));
	bool		v11 = (s ? s->catalog_version : rs_catalog_version()) >= RS_CATALOG_1_1;
	int			n;

	if (s)
		rs_as_owner_begin(s);
	n = rs_spi(v11
			   ? "SELECT tbl::pg_catalog.oid, registered_name, action, label, storage_columns,"
			   " registered_by::pg_catalog.text, force"
			   " FROM reset_system.registered_tables"
			   " ORDER BY action, registered_name"
			   : "SELECT tbl::pg_catalog.oid, registered_name, action, label, storage_columns,"
			   " registered_by::pg_catalog.text, false"
			   " FROM reset_system.registered_tables"
			   " ORDER BY action, registered_name",
			   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		RsTable    *t = palloc0(sizeof(RsTable));
		bool		isnull;
		Datum		cols;

		t->relid = rs_spi_oid(i, 0);
		t->registered_name = rs_spi_text(i, 1);
		t->action = strcmp(rs_spi_text(i, 2), "delete") == 0
			? RS_ACTION_DELETE : RS_ACTION_PRESERVE;
		t->label = rs_spi_text(i, 3);
		cols = rs_spi_datum(i, 4, &isnull);
		t->storage_columns = isnull ? NIL : rs_text_array_to_list(cols);
		/* the table is dumped and can be edited: no NULL column names */
		while (list_member_ptr(t->storage_columns, NULL))
			t->storage_columns = list_delete_ptr(t->storage_columns, NULL);
		t->registered_by = rs_spi_text(i, 5);
		t->force = rs_spi_bool(i, 6);
		t->rows = -1;
		cfg->tables = lappend(cfg->tables, t);
	}

	n = rs_spi(v11
			   ? "SELECT label, command, position, registered_by::pg_catalog.text, search_path,"
			   " phase OPERATOR(pg_catalog.=) 'before'"
			   " FROM reset_system.rebuild_steps ORDER BY position"
			   : "SELECT label, command, position, registered_by::pg_catalog.text, search_path, false"
			   " FROM reset_system.rebuild_steps ORDER BY position",
			   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		RsRebuild  *r = palloc0(sizeof(RsRebuild));

		r->label = rs_spi_text(i, 0);
		r->command = rs_spi_text(i, 1);
		r->position = (int) rs_spi_int64(i, 2, 0);
		r->run_as = rs_spi_text(i, 3);
		r->search_path = rs_spi_text(i, 4);
		r->before = rs_spi_bool(i, 5);
		r->count = -1;
		cfg->rebuilds = lappend(cfg->rebuilds, r);
	}
	if (v11)
		rs_load_kept_config(cfg);
	if (s)
		rs_as_owner_end(s);
	return cfg;
}

/*
 * reset_config(): everything registered, one row per table, rebuild
 * step (action 'before' for the steps that run before the deletes),
 * table with nullified columns, generic reference, storage backend and
 * prefix.
 */
Datum
reset_config(PG_FUNCTION_ARGS)
{
	RsSession	s;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	RsConfig   *cfg;
	RsStorageConfig *storage;
	ListCell   *lc;

	store = rs_srf_begin(fcinfo, &tupdesc);
	rs_enter(&s);
	SPI_connect();
	cfg = rs_load_config(&s);

	foreach(lc, cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		Datum		v[7];
		bool		nulls[7] = {false, false, false, false, false, true, true};
		char	   *current = rs_qualified_name(t->relid, false);
		StringInfoData cols;
		ListCell   *lc2;

		v[0] = CStringGetTextDatum("table");
		v[1] = CStringGetTextDatum(current ? current
								   : psprintf("%s (dropped, OID %u)",
											  t->registered_name, t->relid));
		v[2] = CStringGetTextDatum(rs_action_name(t->action));
		v[3] = CStringGetTextDatum(t->label);
		initStringInfo(&cols);
		foreach(lc2, t->storage_columns)
			appendStringInfo(&cols, "%s%s", cols.len ? ", " : "storage columns: ",
							 (char *) lfirst(lc2));
		if (t->force)
			appendStringInfo(&cols, "%sforced (migration history deleted on purpose)",
							 cols.len ? "; " : "");
		if (cols.len)
			v[4] = CStringGetTextDatum(cols.data);
		else
			nulls[4] = true;
		tuplestore_putvalues(store, tupdesc, v, nulls);
	}
	foreach(lc, cfg->rebuilds)
	{
		RsRebuild  *r = (RsRebuild *) lfirst(lc);
		Datum		v[7];
		bool		nulls[7] = {false, false, false, false, false, false, false};

		v[0] = CStringGetTextDatum("rebuild");
		v[1] = CStringGetTextDatum(r->label);
		v[2] = CStringGetTextDatum(r->before ? "before" : "rebuild");
		v[3] = CStringGetTextDatum(r->label);
		v[4] = CStringGetTextDatum(r->command);
		v[6] = CStringGetTextDatum(r->run_as);
		v[5] = Int32GetDatum(r->position);
		tuplestore_putvalues(store, tupdesc, v, nulls);
	}
	foreach(lc, cfg->nullify)
	{
		RsNullify  *nl = (RsNullify *) lfirst(lc);
		Datum		v[7];
		bool		nulls[7] = {false, false, false, true, false, true, true};
		char	   *current = rs_qualified_name(nl->relid, false);

		v[0] = CStringGetTextDatum("nullify");
		v[1] = CStringGetTextDatum(current ? current
								   : psprintf("%s (dropped, OID %u)", nl->registered_name, nl->relid));
		v[2] = CStringGetTextDatum("set null");
		v[4] = CStringGetTextDatum(psprintf("columns: %s", rs_columns_text(nl->columns)));
		tuplestore_putvalues(store, tupdesc, v, nulls);
	}
	foreach(lc, cfg->generics)
	{
		RsGenericReg *g = (RsGenericReg *) lfirst(lc);
		Datum		v[7];
		bool		nulls[7] = {false, false, false, true, false, true, true};
		char	   *current = rs_qualified_name(g->relid, false);

		v[0] = CStringGetTextDatum("generic");
		v[1] = CStringGetTextDatum(current ? current
								   : psprintf("%s (dropped, OID %u)", g->registered_name, g->relid));
		v[2] = CStringGetTextDatum("delete");
		v[4] = CStringGetTextDatum(psprintf("type column %s, id column %s%s%s%s%s",
											g->type_column, g->id_column,
											g->convention ? ", convention " : "",
											g->convention ? g->convention : "",
											g->targets ? ", targets " : "",
											g->targets ? g->targets : ""));
		tuplestore_putvalues(store, tupdesc, v, nulls);
	}

	storage = rs_storage_config_load(&s);
	if (storage && storage->backend)
	{
		Datum		v[7];
		bool		nulls[7] = {false, false, false, true, false, true, true};

		v[0] = CStringGetTextDatum("storage");
		v[1] = CStringGetTextDatum(storage->backend);
		v[2] = CStringGetTextDatum("purge");
		v[4] = CStringGetTextDatum(storage->foreign
								   ? psprintf("%s (configured on another server or database: confirm with reset_configure_storage)",
											  storage->location)
								   : storage->location);
		tuplestore_putvalues(store, tupdesc, v, nulls);
	}
	if (storage)
	{
		foreach(lc, storage->prefixes)
		{
			Datum		v[7];
			bool		nulls[7] = {false, false, false, true, true, true, true};

			v[0] = CStringGetTextDatum("prefix");
			v[1] = CStringGetTextDatum((char *) lfirst(lc));
			v[2] = CStringGetTextDatum("purge");
			tuplestore_putvalues(store, tupdesc, v, nulls);
		}
	}
	SPI_finish();
	rs_leave(&s);
	return (Datum) 0;
}
