/*-------------------------------------------------------------------------
 *
 * config_kept.c
 *	  Registering what the reset does with kept rows that point into the
 *	  tables it empties: foreign key columns to set to NULL
 *	  (reset_register_nullify) and generic (type, id) references whose rows
 *	  go with the rows they point at (reset_register_generic).
 *
 * They live in reset_system.nullify_columns and
 * reset_system.generic_references (both dumped by pg_dump), added in
 * version 1.1 of the extension's SQL objects: on a database still at 1.0
 * the functions refuse with the statement that upgrades it.  Like every
 * registration, each call checks its input completely before writing,
 * and registering again replaces the registration with a NOTICE saying
 * what changed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/varlena.h"

#include "compat.h"
#include "config.h"
#include "internal.h"
#include "message.h"
#include "plan.h"
#include "reset_system.h"

PG_FUNCTION_INFO_V1(reset_register_nullify);
PG_FUNCTION_INFO_V1(reset_unregister_nullify);
PG_FUNCTION_INFO_V1(reset_register_generic);
PG_FUNCTION_INFO_V1(reset_unregister_generic);

/*
 * require_1_1: the registration tables exist from version 1.1 on.
 */
static void
require_1_1(RsSession *s, const char *func)
{
	if (s->catalog_version < RS_CATALOG_1_1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s() needs version 1.1 of the extension's SQL objects", func),
				 errdetail("This database's reset_system objects are still at version 1.0."),
				 errhint("ALTER EXTENSION reset_system UPDATE;")));
}

/*
 * rs_load_kept_config: the nullified columns and generic references, into
 * cfg (inside an SPI connection, with the extension owner's rights).
 * The tables are dumped and can be edited: NULL column names are dropped.
 */
void
rs_load_kept_config(RsConfig *cfg)
{
	int			n;

	n = rs_spi("SELECT tbl::pg_catalog.oid, registered_name, columns"
			   " FROM reset_system.nullify_columns ORDER BY tbl::pg_catalog.oid",
			   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		RsNullify  *nl = palloc0(sizeof(RsNullify));
		bool		isnull;
		Datum		cols;

		nl->relid = rs_spi_oid(i, 0);
		nl->registered_name = rs_spi_text(i, 1);
		cols = rs_spi_datum(i, 2, &isnull);
		nl->columns = isnull ? NIL : rs_text_array_to_list(cols);
		while (list_member_ptr(nl->columns, NULL))
			nl->columns = list_delete_ptr(nl->columns, NULL);
		cfg->nullify = lappend(cfg->nullify, nl);
	}

	n = rs_spi("SELECT tbl::pg_catalog.oid, registered_name, type_column, id_column,"
			   " targets::pg_catalog.text, convention"
			   " FROM reset_system.generic_references ORDER BY tbl::pg_catalog.oid, type_column",
			   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		RsGenericReg *g = palloc0(sizeof(RsGenericReg));

		g->relid = rs_spi_oid(i, 0);
		g->registered_name = rs_spi_text(i, 1);
		g->type_column = rs_spi_text(i, 2);
		g->id_column = rs_spi_text(i, 3);
		g->targets = rs_spi_isnull(i, 4) ? NULL : rs_spi_text(i, 4);
		g->convention = rs_spi_isnull(i, 5) ? NULL : rs_spi_text(i, 5);
		cfg->generics = lappend(cfg->generics, g);
	}
}

/*
 * check_rights: the reset changes (UPDATE) or deletes (DELETE) rows of
 * the table for the registration: the registering role needs that right
 * itself, so it cannot make a more privileged executor change a table it
 * could not.
 */
static void
check_rights(Oid relid, AclMode mode, const char *why, Oid role)
{
	if (rs_class_aclcheck(relid, role, mode) != ACLCHECK_OK)
	{
		const char *priv = mode == ACL_UPDATE ? "UPDATE" : "DELETE";
		char	   *rolename = GetUserNameFromId(role, false);

		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to register %s on table \"%s\"", why,
						rs_qualified_name(relid, false)),
				 errdetail("A reset changes rows of the table for it, so registering needs the %s privilege on it; role \"%s\" lacks it.",
						   priv, rolename),
				 errhint("Register it as a role that may change it, or grant the privilege first: GRANT %s ON %s TO %s;",
						 priv, rs_qualified_name(relid, true), quote_identifier(rolename))));
	}
}

/*
 * check_nullify_column: col is a column of relid that is part of a
 * foreign key, and may be NULL.
 */
static void
check_nullify_column(Oid relid, const char *col)
{
	char	   *name = rs_qualified_name(relid, false);
	AttrNumber	attnum = get_attnum(relid, col);
	Oid			argtypes[2] = {OIDOID, INT2OID};
	Datum		values[2];

	if (attnum == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column %s of table \"%s\" does not exist", rs_message_value(col), name),
				 errhint("Column names are case-sensitive.")));
	if (attnum < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("system column %s cannot be set to NULL", rs_message_value(col))));
	values[0] = ObjectIdGetDatum(relid);
	values[1] = Int16GetDatum(attnum);
	if (rs_spi("SELECT 1 FROM pg_catalog.pg_constraint"
			   " WHERE conrelid OPERATOR(pg_catalog.=) $1 AND contype OPERATOR(pg_catalog.=) 'f'"
			   "   AND $2 OPERATOR(pg_catalog.=) ANY (conkey)",
			   2, argtypes, values, NULL, true, SPI_OK_SELECT) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_COLUMN_REFERENCE),
				 errmsg("column \"%s\" of table \"%s\" is not part of a foreign key", col, name),
				 errdetail("reset_register_nullify() names the foreign key columns a reset sets to NULL where they point into a table it empties."),
				 errhint("For a reference without a foreign key (a type and an id), use reset_register_generic().")));
	if (rs_spi("SELECT 1 FROM pg_catalog.pg_attribute"
			   " WHERE attrelid OPERATOR(pg_catalog.=) $1 AND attnum OPERATOR(pg_catalog.=) $2 AND attnotnull",
			   2, argtypes, values, NULL, true, SPI_OK_SELECT) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("column \"%s\" of table \"%s\" is NOT NULL", col, name),
				 errdetail("A reset could not set it to NULL in the rows that point into a table it empties."),
				 errhint("Let the reset empty the table too (reset_register_table(..., 'delete')), "
						 "or allow NULL first: ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;",
						 rs_qualified_name(relid, true), quote_identifier(col))));
}

/*
 * reset_register_nullify(tbl regclass, columns text[])
 *
 * Register foreign key columns of a kept table that a reset sets to NULL
 * in the rows pointing into a table it empties: for NO ACTION and
 * RESTRICT foreign keys, which PostgreSQL would refuse to delete under
 * (ON DELETE SET NULL and SET DEFAULT are applied without a
 * registration; registered columns are set to NULL instead of their
 * default).  Registering the table again replaces its columns.
 */
Datum
reset_register_nullify(PG_FUNCTION_ARGS)
{
	Oid			relid;
	List	   *columns;
	List	   *seen = NIL;
	ListCell   *lc;
	char	   *name;
	RsSession	s;
	Oid			argtypes[4] = {OIDOID, TEXTARRAYOID, TEXTOID, NAMEOID};
	Datum		values[4];

	rs_require_writable("reset_register_nullify");
	rs_require_arg(fcinfo, 0, "reset_register_nullify", "tbl");
	rs_require_arg(fcinfo, 1, "reset_register_nullify", "columns");
	relid = PG_GETARG_OID(0);
	columns = rs_text_array_to_list(PG_GETARG_DATUM(1));

	rs_enter(&s);
	require_1_1(&s, "reset_register_nullify");
	rs_check_registrable_table(relid);
	name = rs_qualified_name(relid, false);
	if (columns == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("columns of table \"%s\" must name at least one column", name),
				 errhint("To forget the registration: SELECT reset_unregister_nullify(%s);",
						 quote_literal_cstr(rs_qualified_name(relid, true)))));

	SPI_connect();
	foreach(lc, columns)
	{
		char	   *col = (char *) lfirst(lc);

		if (col == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("columns of table \"%s\" must not contain NULL", name)));
		if (rs_str_member(seen, col))
			ereport(ERROR,
					(errcode(ERRCODE_DUPLICATE_COLUMN),
					 errmsg("column %s appears twice in columns of table \"%s\"", rs_message_value(col), name)));
		seen = lappend(seen, col);
		check_nullify_column(relid, col);
	}
	check_rights(relid, ACL_UPDATE, "columns to set to NULL", s.caller_role);

	values[0] = ObjectIdGetDatum(relid);
	values[1] = rs_list_to_text_array(columns);
	values[2] = CStringGetTextDatum(rs_qualified_name(relid, true));
	values[3] = DirectFunctionCall1(namein,
									CStringGetDatum(GetUserNameFromId(s.caller_role, false)));
	rs_as_owner_begin(&s);
	if (rs_spi("SELECT columns FROM reset_system.nullify_columns"
			   " WHERE tbl OPERATOR(pg_catalog.=) $1::pg_catalog.regclass FOR UPDATE",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT) > 0)
	{
		bool		isnull;
		Datum		old = rs_spi_datum(0, 0, &isnull);
		char	   *before = rs_columns_text(isnull ? NIL : rs_text_array_to_list(old));
		char	   *after = rs_columns_text(columns);

		if (strcmp(before, after) == 0)
			ereport(NOTICE,
					(errmsg("columns %s of table \"%s\" were already registered; nothing changed", after, name)));
		else
			ereport(NOTICE,
					(errmsg("table \"%s\" already had columns registered; they are replaced: %s -> %s",
							name, before, after)));
	}
	rs_spi("INSERT INTO reset_system.nullify_columns (tbl, columns, registered_name, registered_by)"
		   " VALUES ($1::pg_catalog.regclass, $2, $3, $4)"
		   " ON CONFLICT (tbl) DO UPDATE SET columns = EXCLUDED.columns,"
		   " registered_name = EXCLUDED.registered_name,"
		   " registered_at = pg_catalog.now(), registered_by = EXCLUDED.registered_by",
		   4, argtypes, values, NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_VOID();
}

/*
 * reset_unregister_nullify(tbl regclass): forget the table's columns.
 */
Datum
reset_unregister_nullify(PG_FUNCTION_ARGS)
{
	Oid			relid;
	RsSession	s;
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	int			n;

	rs_require_writable("reset_unregister_nullify");
	rs_require_arg(fcinfo, 0, "reset_unregister_nullify", "tbl");
	relid = PG_GETARG_OID(0);
	values[0] = ObjectIdGetDatum(relid);

	rs_enter(&s);
	require_1_1(&s, "reset_unregister_nullify");
	SPI_connect();
	rs_as_owner_begin(&s);
	n = rs_spi("DELETE FROM reset_system.nullify_columns"
			   " WHERE tbl OPERATOR(pg_catalog.=) $1::pg_catalog.regclass",
			   1, argtypes, values, NULL, false, SPI_OK_DELETE);
	rs_as_owner_end(&s);
	SPI_finish();
	if (n == 0)
	{
		char	   *name = rs_qualified_name(relid, false);

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 name ? errmsg("table \"%s\" has no columns registered to be set to NULL", name)
				 : errmsg("no table with OID %u has columns registered to be set to NULL", relid),
				 errhint("SELECT * FROM reset_config(); lists what is registered.")));
	}
	rs_leave(&s);
	PG_RETURN_VOID();
}

/*
 * column_kind: rs_type_kind() of a column of relid; 0 when it does not
 * exist.
 */
static char
column_kind(Oid relid, const char *col)
{
	AttrNumber	attnum = get_attnum(relid, col);

	if (attnum <= 0)
		return 0;
	return rs_type_kind(get_atttype(relid, attnum));
}

/*
 * resolve_target: the table a target names, in the caller's search_path
 * (which is in force), or InvalidOid; *bad_name is set when the text is
 * not a table name at all (like to_regclass(), without its errors on
 * malformed names, which would name no table and no type value).
 */
static Oid
resolve_target(const char *text, bool *bad_name)
{
	char	   *copy = pstrdup(text);
	List	   *names;

	*bad_name = false;
	if (!SplitIdentifierString(copy, '.', &names) || names == NIL ||
		list_length(names) > 3 ||
		(list_length(names) == 3 &&
		 strcmp((char *) linitial(names), get_database_name(MyDatabaseId)) != 0))
	{
		*bad_name = true;
		return InvalidOid;
	}
	{
		List	   *qualified = NIL;
		ListCell   *lc;

		foreach(lc, names)
			qualified = lappend(qualified, makeString((char *) lfirst(lc)));
		return RangeVarGetRelid(makeRangeVarFromNameList(qualified), NoLock, true);
	}
}

/*
 * normalize_targets: the targets object with every table name resolved in
 * the caller's search_path and written qualified, as text; an error
 * naming the first entry that is not a string naming a table.
 */
static char *
normalize_targets(RsSession *s, Datum targets, const char *name)
{
	Oid			argtypes[1] = {JSONBOID};
	Datum		values[1];
	int			nest;
	int			n;

	values[0] = targets;
	rs_spi("SELECT pg_catalog.jsonb_typeof($1)", 1, argtypes, values, NULL, true, SPI_OK_SELECT);
	if (strcmp(rs_spi_text(0, 0), "object") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("targets of the generic reference on table \"%s\" must be a JSON object", name),
				 errhint("Map each type value to a table: '{\"Submission\": \"app.submissions\"}'.")));
	nest = rs_use_caller_search_path(s);
	n = rs_spi("SELECT e.key, pg_catalog.jsonb_typeof(e.value),"
			   " pg_catalog.jsonb_build_array(e.value) OPERATOR(pg_catalog.->>) 0"
			   " FROM pg_catalog.jsonb_each($1) e ORDER BY 1",
			   1, argtypes, values, NULL, true, SPI_OK_SELECT);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("targets of the generic reference on table \"%s\" is empty", name),
				 errhint("Map each type value to a table, or pass NULL and a convention.")));
	{
		StringInfoData buf;

		initStringInfo(&buf);
		appendStringInfoChar(&buf, '{');
		for (int i = 0; i < n; i++)
		{
			char	   *key = rs_spi_text(i, 0);
			Oid			target;
			char		kind;

			char	   *jtype = rs_spi_text(i, 1);
			char	   *value = rs_spi_text(i, 2);
			bool		bad_name;

			if (key[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("targets of the generic reference on table \"%s\" has an empty type value", name)));
			if (strcmp(jtype, "string") != 0)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("target of type value %s must be a table name (a JSON string), not %s %s",
								rs_message_value(key),
								strcmp(jtype, "array") == 0 || strcmp(jtype, "object") == 0 ? "an" : "a",
								jtype),
						 errdetail("It is %s.", strcmp(jtype, "null") == 0 ? "null" : rs_message_value(value)),
						 errhint("Each type value maps to the name of a table, for example \"app.submissions\".")));
			target = resolve_target(value, &bad_name);
			if (bad_name)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_NAME),
						 errmsg("target of type value %s is not a valid table name: %s",
								rs_message_value(key), rs_message_value(value)),
						 errhint("Each type value maps to the name of a table, for example \"app.submissions\"; quote names with capitals or dots in them with \"\".")));
			if (!OidIsValid(target))
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_TABLE),
						 errmsg("target of type value %s is not a table: %s",
								rs_message_value(key), rs_message_value(value)),
						 errhint("Each type value maps to the name of a table, for example \"app.submissions\".")));
			kind = get_rel_relkind(target);
			if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE)
				ereport(ERROR,
						(errcode(ERRCODE_WRONG_OBJECT_TYPE),
						 errmsg("target of type value %s is not a table: %s",
								rs_message_value(key), rs_message_value(value))));
			if (i > 0)
				appendStringInfoString(&buf, ", ");
			escape_json(&buf, key);
			appendStringInfoString(&buf, ": ");
			escape_json(&buf, rs_qualified_name(target, true));
		}
		appendStringInfoChar(&buf, '}');
		rs_restore_settings(nest);
		return buf.data;
	}
}

/*
 * reset_register_generic(tbl regclass, type_column text, id_column text,
 *						  targets jsonb DEFAULT NULL, convention text DEFAULT NULL)
 *
 * Register a generic reference of a table: the rows whose type names a
 * table the reset empties are deleted by the reset (they would point at
 * nothing, then at new rows).  Registering the same type column again
 * replaces it.
 */
Datum
reset_register_generic(PG_FUNCTION_ARGS)
{
	Oid			relid;
	char	   *type_column;
	char	   *id_column;
	char	   *convention = NULL;
	char	   *targets = NULL;
	char	   *name;
	char		tkind;
	char		ikind;
	RsSession	s;
	Oid			argtypes[7] = {OIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, NAMEOID};
	Datum		values[7];
	char		nulls[7] = {' ', ' ', ' ', ' ', ' ', ' ', ' '};

	rs_require_writable("reset_register_generic");
	rs_require_arg(fcinfo, 0, "reset_register_generic", "tbl");
	rs_require_arg(fcinfo, 1, "reset_register_generic", "type_column");
	rs_require_arg(fcinfo, 2, "reset_register_generic", "id_column");
	relid = PG_GETARG_OID(0);
	type_column = text_to_cstring(PG_GETARG_TEXT_PP(1));
	id_column = text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(4))
		convention = text_to_cstring(PG_GETARG_TEXT_PP(4));

	rs_enter(&s);
	require_1_1(&s, "reset_register_generic");
	rs_check_registrable_table(relid);
	name = rs_qualified_name(relid, false);

	if (convention != NULL && strcmp(convention, "django") != 0 && strcmp(convention, "rails") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown convention %s for the generic reference on table \"%s\"", rs_message_value(convention), name),
				 errhint("Use 'django' (content types), 'rails' (class names), or NULL with targets.")));
	if (convention == NULL && PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the generic reference on table \"%s\" needs targets or a convention", name),
				 errdetail("A reset must know which table each type value names."),
				 errhint("Pass targets => '{\"Submission\": \"app.submissions\"}', or convention => 'django' or 'rails'.")));
	if (strcmp(type_column, id_column) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the type column and the id column of a generic reference must differ")));

	tkind = column_kind(relid, type_column);
	ikind = column_kind(relid, id_column);
	if (tkind == 0 || ikind == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column %s of table \"%s\" does not exist", rs_message_value(tkind == 0 ? type_column : id_column), name),
				 errhint("Column names are case-sensitive.")));
	if (convention != NULL && strcmp(convention, "django") == 0 ? tkind != 'i' : (tkind != 't' && tkind != 'e'))
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("type column \"%s\" of table \"%s\" is of type %s", type_column, name,
						format_type_be(get_atttype(relid, get_attnum(relid, type_column)))),
				 errdetail(convention != NULL && strcmp(convention, "django") == 0
						   ? "With convention 'django' it holds content type ids: an integer column."
						   : "It holds type names: a text column (or an enum).")));
	if (ikind != 'i' && ikind != 't' && ikind != 'u')
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("id column \"%s\" of table \"%s\" is of type %s", id_column, name,
						format_type_be(get_atttype(relid, get_attnum(relid, id_column)))),
				 errdetail("Ids are integers, text (Django's object_pk) or uuids.")));

	SPI_connect();
	if (convention != NULL && strcmp(convention, "django") == 0 &&
		!OidIsValid(rs_django_content_types(relid, type_column)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("no django_content_type table found for the generic reference on table \"%s\"", name),
				 errdetail("Column \"%s\" has no foreign key into the content types, and schema \"%s\" has no table django_content_type.",
						   type_column, get_namespace_name(get_rel_namespace(relid))),
				 errhint("Map the content type ids with targets and no convention.")));
	if (!PG_ARGISNULL(3))
		targets = normalize_targets(&s, PG_GETARG_DATUM(3), name);
	check_rights(relid, ACL_DELETE, "a generic reference", s.caller_role);

	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(type_column);
	values[2] = CStringGetTextDatum(id_column);
	if (targets)
		values[3] = CStringGetTextDatum(targets);
	else
		nulls[3] = 'n';
	if (convention)
		values[4] = CStringGetTextDatum(convention);
	else
		nulls[4] = 'n';
	values[5] = CStringGetTextDatum(rs_qualified_name(relid, true));
	values[6] = DirectFunctionCall1(namein,
									CStringGetDatum(GetUserNameFromId(s.caller_role, false)));
	rs_as_owner_begin(&s);
	if (rs_spi("SELECT id_column, targets::pg_catalog.text, convention FROM reset_system.generic_references"
			   " WHERE tbl OPERATOR(pg_catalog.=) $1::pg_catalog.regclass AND type_column OPERATOR(pg_catalog.=) $2"
			   " FOR UPDATE",
			   2, argtypes, values, nulls, false, SPI_OK_SELECT) > 0)
	{
		char	   *old_id = rs_spi_text(0, 0);
		char	   *old_targets = rs_spi_isnull(0, 1) ? "none" : rs_spi_text(0, 1);
		char	   *old_conv = rs_spi_isnull(0, 2) ? "none" : rs_spi_text(0, 2);
		StringInfoData changes;

		initStringInfo(&changes);
		if (strcmp(old_id, id_column) != 0)
			appendStringInfo(&changes, "id column %s -> %s", old_id, id_column);
		if (strcmp(old_conv, convention ? convention : "none") != 0)
			appendStringInfo(&changes, "%sconvention %s -> %s", changes.len ? ", " : "",
							 old_conv, convention ? convention : "none");
		if (strcmp(old_targets, targets ? targets : "none") != 0)
			appendStringInfo(&changes, "%stargets %s -> %s", changes.len ? ", " : "",
							 old_targets, targets ? targets : "none");
		if (changes.len == 0)
			ereport(NOTICE,
					(errmsg("the generic reference %s.%s was already registered like this; nothing changed",
							name, type_column)));
		else
			ereport(NOTICE,
					(errmsg("the generic reference %s.%s was already registered; it is replaced: %s",
							name, type_column, changes.data)));
	}
	rs_spi("INSERT INTO reset_system.generic_references"
		   " (tbl, type_column, id_column, targets, convention, registered_name, registered_by)"
		   " VALUES ($1::pg_catalog.regclass, $2, $3, $4::pg_catalog.jsonb, $5, $6, $7)"
		   " ON CONFLICT (tbl, type_column) DO UPDATE SET id_column = EXCLUDED.id_column,"
		   " targets = EXCLUDED.targets, convention = EXCLUDED.convention,"
		   " registered_name = EXCLUDED.registered_name,"
		   " registered_at = pg_catalog.now(), registered_by = EXCLUDED.registered_by",
		   7, argtypes, values, nulls, false, SPI_OK_INSERT);
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_VOID();
}

/*
 * reset_unregister_generic(tbl regclass, type_column text DEFAULT NULL):
 * forget one generic reference of a table (or all of them).
 */
Datum
reset_unregister_generic(PG_FUNCTION_ARGS)
{
	Oid			relid;
	RsSession	s;
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	int			n;

	rs_require_writable("reset_unregister_generic");
	rs_require_arg(fcinfo, 0, "reset_unregister_generic", "tbl");
	relid = PG_GETARG_OID(0);
	values[0] = ObjectIdGetDatum(relid);
	if (PG_NARGS() < 2 || PG_ARGISNULL(1))
		nulls[1] = 'n';
	else
		values[1] = PG_GETARG_DATUM(1);

	rs_enter(&s);
	require_1_1(&s, "reset_unregister_generic");
	SPI_connect();
	rs_as_owner_begin(&s);
	n = rs_spi("DELETE FROM reset_system.generic_references"
			   " WHERE tbl OPERATOR(pg_catalog.=) $1::pg_catalog.regclass"
			   "   AND ($2 IS NULL OR type_column OPERATOR(pg_catalog.=) $2)",
			   2, argtypes, values, nulls, false, SPI_OK_DELETE);
	rs_as_owner_end(&s);
	SPI_finish();
	if (n == 0)
	{
		char	   *name = rs_qualified_name(relid, false);

		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 name ? errmsg("table \"%s\" has no generic reference registered%s", name,
							   nulls[1] == 'n' ? "" : psprintf(" on column \"%s\"", TextDatumGetCString(values[1])))
				 : errmsg("no table with OID %u has a generic reference registered", relid),
				 errhint("SELECT * FROM reset_config(); lists what is registered.")));
	}
	rs_leave(&s);
	PG_RETURN_VOID();
}
