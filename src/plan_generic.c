/*-------------------------------------------------------------------------
 *
 * plan_generic.c
 *	  Generic references: kept rows that point at a row by (type, id), with
 *	  no foreign key the database could see.
 *
 * Django's content types (object permissions, tags, the admin log, version
 * history) and Rails' polymorphic associations (comments, Active Storage
 * attachments) point at rows of many tables through a type column and an
 * id column.  When the reset empties the table a type names, those kept
 * rows point at nothing, and once the ids are given out again (sequences
 * restart), at rows they were never about: an object permission granted
 * on a deleted project applies to the next project created.  So the rows
 * of a registered generic reference whose type names a table the reset
 * empties are deleted with it, whatever their id: an id no row has now
 * (a reference left dangling before the reset) would alias a new row all
 * the same.
 *
 * Type values are read from the rows themselves (one grouped scan of the
 * kept table), and mapped to tables:
 *	- targets: {"type value": "schema.table"}, first (the exceptions);
 *	- convention 'django': the type column holds a content type id; the
 *	  content type (app_label, model) names the table app_label_model in
 *	  the schema of django_content_type (targets keys are "app_label.model");
 *	- convention 'rails': the class name's table by Rails' default rules
 *	  (inflect.c), in the schema of the kept table.
 * A value that maps to no table is a warning naming it, with the call
 * that maps it.  Unregistered tables with columns that look like a
 * generic reference (content_type_id with object_id or object_pk; X_type
 * with X_id) are warnings too, with the call that registers them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "plan.h"
#include "render.h"
#include "reset_system.h"

/* Type values named in one warning at most */
#define RS_GENERIC_SHOWN 10

/*
 * find_generic_registration: is (relid, type_column) registered?
 */
static bool
find_generic_registration(RsPlan *plan, Oid relid, const char *type_column)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->generics)
	{
		RsGenericReg *g = (RsGenericReg *) lfirst(lc);

		if (g->relid == relid && strcmp(g->type_column, type_column) == 0)
			return true;
	}
	return false;
}

/*
 * rs_django_content_types: the django_content_type table a
 * content_type_id column points at: the table its foreign key references,
 * else django_content_type in the kept table's schema.  InvalidOid when
 * there is none.
 */
Oid
rs_django_content_types(Oid relid, const char *type_column)
{
	Oid			argtypes[2] = {OIDOID, TEXTOID};
	Datum		values[2];
	Oid			found = InvalidOid;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = CStringGetTextDatum(type_column);
	if (rs_spi("SELECT c.confrelid FROM pg_catalog.pg_constraint c"
			   " JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.conrelid"
			   "  AND a.attnum OPERATOR(pg_catalog.=) c.conkey[1]"
			   " WHERE c.contype OPERATOR(pg_catalog.=) 'f' AND c.conrelid OPERATOR(pg_catalog.=) $1"
			   "   AND pg_catalog.cardinality(c.conkey) OPERATOR(pg_catalog.=) 1"
			   "   AND a.attname OPERATOR(pg_catalog.=) $2::pg_catalog.name"
			   " ORDER BY c.oid LIMIT 1",
			   2, argtypes, values, NULL, true, SPI_OK_SELECT) > 0)
		found = rs_spi_oid(0, 0);
	if (!OidIsValid(found))
		found = get_relname_relid("django_content_type", get_rel_namespace(relid));
	return found;
}

/*
 * rs_type_kind: what a column of this type can hold in a generic
 * reference: 'i' (an integer type), 't' (a text type), 'u' (uuid), 'e'
 * (an enum), '?' (anything else).  Domains count as their base type.
 */
char
rs_type_kind(Oid type)
{
	type = getBaseType(type);
	switch (type)
	{
		case INT2OID:
		case INT4OID:
		case INT8OID:
			return 'i';
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			return 't';
		case UUIDOID:
			return 'u';
		default:
			if (type_is_enum(type))
				return 'e';
			/* citext and other text-like extension types */
			return TypeCategory(type) == TYPCATEGORY_STRING ? 't' : '?';
	}
}

/*
 * rs_generic_resolve: the registered generic references of the tables
 * the reset keeps (a table it empties loses those rows anyway), with
 * their tables looked up now.  A registration whose table or columns are
 * gone is a warning or a blocker, with the call that removes it.
 */
void
rs_generic_resolve(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->generics)
	{
		RsGenericReg *reg = (RsGenericReg *) lfirst(lc);
		RsGeneric  *g;
		RsTable    *own = NULL;
		ListCell   *lc2;
		char	   *name = rs_qualified_name(reg->relid, false);

		if (name == NULL)
		{
			rs_plan_add_warning(plan,
								"the generic reference registered on table %s (OID %u) is skipped: the table no longer exists; "
								"remove it with SELECT reset_unregister_generic(%u);",
								reg->registered_name, reg->relid, reg->relid);
			continue;
		}
		if (rs_plan_deletes(plan, reg->relid))
			continue;			/* its rows go with the table */

		g = palloc0(sizeof(RsGeneric));
		g->reg = reg;
		g->name = name;
		g->qname = rs_qualified_name(reg->relid, true);
		g->relkind = get_rel_relkind(reg->relid);
		g->preserved = rs_plan_find_preserve(plan, reg->relid) != NULL;
		foreach(lc2, plan->cfg->tables)
			if (((RsTable *) lfirst(lc2))->relid == reg->relid)
				own = (RsTable *) lfirst(lc2);
		g->label = own ? own->label : get_rel_name(reg->relid);
		if (reg->convention && strcmp(reg->convention, "django") == 0)
			g->content_types = rs_django_content_types(reg->relid, reg->type_column);
		g->rows = -1;
		plan->generics = lappend(plan->generics, g);
	}
}

/*
 * column_ok: does the column still exist?
 */
static bool
column_ok(Oid relid, const char *column)
{
	return get_attnum(relid, column) > 0;
}

/*
 * rs_generic_analyze: registrations whose columns are gone block the
 * plan (the reset could not read them); unregistered tables that look
 * like they hold generic references are warnings.
 */
void
rs_generic_analyze(RsPlan *plan)
{
	List	   *candidates = NIL;
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];
	ListCell   *lc;
	int			n;
	Oid			current = InvalidOid;
	List	   *columns = NIL;	/* of the current table: "name:kind" */

	foreach(lc, plan->generics)
	{
		RsGeneric  *g = (RsGeneric *) lfirst(lc);
		const char *missing = !column_ok(g->reg->relid, g->reg->type_column) ? g->reg->type_column
			: !column_ok(g->reg->relid, g->reg->id_column) ? g->reg->id_column : NULL;
		char	   *forget;

		if (missing == NULL && (g->reg->convention == NULL || strcmp(g->reg->convention, "django") != 0 ||
								OidIsValid(g->content_types)))
			continue;
		forget = psprintf("SELECT reset_unregister_generic(%s, %s);",
						  quote_literal_cstr(g->qname), quote_literal_cstr(g->reg->type_column));
		if (missing)
			rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_UNDEFINED_COLUMN,
											   psprintf("column \"%s\" of the generic reference registered on table \"%s\" no longer exists",
														missing, g->name),
											   pstrdup("It was dropped or renamed after the reference was registered; "
													   "a reset could not tell which rows point at emptied tables."),
											   psprintf("Forget the registration: %s and, if the reference moved to other "
														"columns, register those with reset_register_generic().", forget)),
						   forget);
		else
			rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_UNDEFINED_TABLE,
											   psprintf("the generic reference registered on table \"%s\" reads Django content types, "
														"but no django_content_type table is found", g->name),
											   psprintf("Column \"%s\" has no foreign key into the content types, and schema \"%s\" has no table django_content_type.",
														g->reg->type_column, get_namespace_name(get_rel_namespace(g->reg->relid))),
											   psprintf("Forget the registration: %s or register it again with targets "
														"instead of the convention.", forget)),
						   forget);
	}

	/* kept tables that look like they hold generic references */
	foreach(lc, plan->schema_tables)
	{
		RsSchemaTable *st = (RsSchemaTable *) lfirst(lc);

		if (!st->partition && !rs_plan_deletes(plan, st->relid))
			candidates = list_append_unique_oid(candidates, st->relid);
	}
	foreach(lc, plan->preserve_tables)
		candidates = list_append_unique_oid(candidates, ((RsTable *) lfirst(lc))->relid);
	if (candidates == NIL)
		return;
	values[0] = rs_oid_array(candidates);
	n = rs_spi("SELECT a.attrelid, a.attname::pg_catalog.text, a.atttypid"
			   " FROM pg_catalog.pg_attribute a"
			   " WHERE a.attrelid OPERATOR(pg_catalog.=) ANY ($1) AND a.attnum OPERATOR(pg_catalog.>) 0"
			   "   AND NOT a.attisdropped"
			   " ORDER BY a.attrelid, a.attnum",
			   1, argtypes, values, NULL, true, SPI_OK_SELECT);

	/* one pass per table: the rows come grouped by table */
	for (int i = 0; i <= n; i++)
	{
		Oid			relid = i < n ? rs_spi_oid(i, 0) : InvalidOid;

		if (relid != current && OidIsValid(current))
		{
			char	   *qname = rs_qualified_name(current, true);
			ListCell   *lc2;

			foreach(lc2, columns)
			{
				char	   *entry = (char *) lfirst(lc2);
				char	   *colon = strrchr(entry, ':');
				char		kind = colon[1];
				char	   *col = pnstrdup(entry, colon - entry);
				const char *id_col = NULL;
				const char *convention = NULL;

				if (strcmp(col, "content_type_id") == 0 && kind == 'i')
				{
					if (rs_str_member(columns, "object_id:i") || rs_str_member(columns, "object_id:t") ||
						rs_str_member(columns, "object_id:u"))
						id_col = "object_id";
					else if (rs_str_member(columns, "object_pk:i") || rs_str_member(columns, "object_pk:t") ||
							 rs_str_member(columns, "object_pk:u"))
						id_col = "object_pk";
					convention = "django";
				}
				else if ((kind == 't' || kind == 'e') && strlen(col) > 5 &&
						 strcmp(col + strlen(col) - 5, "_type") == 0)
				{
					char	   *stem = pnstrdup(col, strlen(col) - 5);

					if (rs_str_member(columns, psprintf("%s_id:i", stem)) ||
						rs_str_member(columns, psprintf("%s_id:t", stem)) ||
						rs_str_member(columns, psprintf("%s_id:u", stem)))
						id_col = psprintf("%s_id", stem);
					convention = "rails";
				}
				if (id_col == NULL || find_generic_registration(plan, current, col))
					continue;
				rs_plan_add_warning(plan,
									"table \"%s\" has columns %s and %s, which look like a generic reference (%s): "
									"its rows that point at an emptied table would be kept, and point at new rows once ids are given out again; "
									"register it with SELECT reset_register_generic(%s, %s, %s, convention => '%s');",
									rs_qualified_name(current, false), col, id_col,
									strcmp(convention, "django") == 0 ? "Django content types" : "a Rails polymorphic association",
									quote_literal_cstr(qname), quote_literal_cstr(col),
									quote_literal_cstr(id_col), convention);
			}
			columns = NIL;
		}
		if (i == n)
			break;
		current = relid;
		columns = lappend(columns, psprintf("%s:%c", rs_spi_text(i, 1), rs_type_kind(rs_spi_oid(i, 2))));
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * load_targets: the registration's targets as (key, table OID) pairs:
 * keys in *keys, tables in *tables (InvalidOid: the table is gone).
 */
static void
load_targets(RsGeneric *g, List **keys, List **tables)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	int			n;

	*keys = NIL;
	*tables = NIL;
	if (g->reg->targets == NULL)
		return;
	values[0] = CStringGetTextDatum(g->reg->targets);
	n = rs_spi("SELECT e.key, pg_catalog.to_regclass(e.value)::pg_catalog.oid"
			   " FROM pg_catalog.jsonb_each_text($1::pg_catalog.jsonb) e"
			   " WHERE pg_catalog.jsonb_typeof($1::pg_catalog.jsonb) OPERATOR(pg_catalog.=) 'object'"
			   " ORDER BY 1",
			   1, argtypes, values, NULL, true, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		*keys = lappend(*keys, rs_spi_text(i, 0));
		*tables = lappend_oid(*tables, rs_spi_isnull(i, 1) ? InvalidOid : rs_spi_oid(i, 1));
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * ordinary_table: relid when it names a table that holds rows (an
 * ordinary or partitioned table), else InvalidOid.
 */
static Oid
ordinary_table(Oid relid)
{
	char		kind;

	if (!OidIsValid(relid))
		return InvalidOid;
	kind = get_rel_relkind(relid);
	return (kind == RELKIND_RELATION || kind == RELKIND_PARTITIONED_TABLE) ? relid : InvalidOid;
}

/*
 * resolve_django: the content types of a django reference: id -> the
 * key "app_label.model" in *keys, its default table in *tables.
 */
static void
resolve_django(RsGeneric *g, List **ids, List **keys, List **tables)
{
	Oid			nsp = get_rel_namespace(g->content_types);
	int			n;

	*ids = NIL;
	*keys = NIL;
	*tables = NIL;
	n = rs_spi(psprintf("SELECT id::pg_catalog.text, app_label::pg_catalog.text, model::pg_catalog.text FROM %s",
						rs_qualified_name(g->content_types, true)),
			   0, NULL, NULL, NULL, true, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		char	   *app = rs_spi_text(i, 1);
		char	   *model = rs_spi_text(i, 2);

		*ids = lappend(*ids, rs_spi_text(i, 0));
		*keys = lappend(*keys, psprintf("%s.%s", app, model));
		*tables = lappend_oid(*tables,
							  ordinary_table(get_relname_relid(psprintf("%s_%s", app, model), nsp)));
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * resolve_value: the table a type value names, or why none.
 */
static void
resolve_value(RsGeneric *g, RsGenericType *ty, List *tkeys, List *ttables,
			  List *ct_ids, List *ct_keys, List *ct_tables)
{
	const char *key = ty->value;
	ListCell   *lc;
	ListCell   *lc2;
	ListCell   *lc3;
	bool		django = g->reg->convention && strcmp(g->reg->convention, "django") == 0;
	bool		rails = g->reg->convention && strcmp(g->reg->convention, "rails") == 0;

	ty->shown = ty->value;
	if (django)
	{
		key = NULL;
		forthree(lc, ct_ids, lc2, ct_keys, lc3, ct_tables)
			if (strcmp((char *) lfirst(lc), ty->value) == 0)
			{
				key = (char *) lfirst(lc2);
				ty->shown = psprintf("%s (content type %s)", key, ty->value);
				ty->target = lfirst_oid(lc3);
			}
		if (key == NULL)
		{
			ty->unresolved = psprintf("content type %s does not exist", ty->value);
			ty->target = InvalidOid;
			return;
		}
	}

	/* targets first: the exceptions */
	forboth(lc, tkeys, lc2, ttables)
		if (strcmp((char *) lfirst(lc), key) == 0)
		{
			ty->target = ordinary_table(lfirst_oid(lc2));
			if (!OidIsValid(ty->target))
				ty->unresolved = pstrdup("its table in targets no longer exists");
			return;
		}

	if (django)
	{
		if (!OidIsValid(ty->target))
			ty->unresolved = psprintf("no table %s_%s", pnstrdup(key, strchr(key, '.') - key),
									  strchr(key, '.') + 1);
		return;
	}
	if (rails)
	{
		Oid			nsp = get_rel_namespace(g->reg->relid);
		List	   *found = NIL;
		List	   *names = rs_rails_table_names(ty->value);

		foreach(lc, names)
		{
			Oid			t = ordinary_table(get_relname_relid((char *) lfirst(lc), nsp));

			if (OidIsValid(t))
				found = lappend_oid(found, t);
		}
		if (list_length(found) == 1)
			ty->target = linitial_oid(found);
		else if (found == NIL)
			ty->unresolved = psprintf("no table %s", (char *) llast(names));
		else
			ty->unresolved = psprintf("both %s and %s exist",
									  rs_qualified_name(linitial_oid(found), false),
									  rs_qualified_name(lsecond_oid(found), false));
		return;
	}
	ty->unresolved = pstrdup("not in targets");
}

/*
 * rs_generic_count: read the type values of every registered generic
 * reference, map them to tables, and count the rows pointing into
 * emptied tables.  Values that map to no table are a warning, with the
 * call that maps them.
 */
void
rs_generic_count(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->generics)
	{
		RsGeneric  *g = (RsGeneric *) lfirst(lc);
		List	   *tkeys;
		List	   *ttables;
		List	   *ct_ids = NIL;
		List	   *ct_keys = NIL;
		List	   *ct_tables = NIL;
		List	   *types = NIL;
		StringInfoData unresolved;
		int			nunresolved = 0;
		ListCell   *lc2;
		int			n;

		g->types = NIL;
		g->rows = 0;
		if (!column_ok(g->reg->relid, g->reg->type_column))
			continue;
		if (g->reg->convention && strcmp(g->reg->convention, "django") == 0)
		{
			if (!OidIsValid(g->content_types))
				continue;
			resolve_django(g, &ct_ids, &ct_keys, &ct_tables);
		}
		load_targets(g, &tkeys, &ttables);

		n = rs_spi(psprintf("SELECT %s::pg_catalog.text, pg_catalog.count(*) FROM %s%s"
							" WHERE %s IS NOT NULL GROUP BY 1 ORDER BY 1",
							quote_identifier(g->reg->type_column),
							g->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ", g->qname,
							quote_identifier(g->reg->type_column)),
				   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
		for (int i = 0; i < n; i++)
		{
			RsGenericType *ty = palloc0(sizeof(RsGenericType));

			ty->value = rs_spi_text(i, 0);
			ty->rows = rs_spi_int64(i, 1, 0);
			types = lappend(types, ty);
		}
		SPI_freetuptable(SPI_tuptable);

		initStringInfo(&unresolved);
		foreach(lc2, types)
		{
			RsGenericType *ty = (RsGenericType *) lfirst(lc2);

			resolve_value(g, ty, tkeys, ttables, ct_ids, ct_keys, ct_tables);
			ty->emptied = OidIsValid(ty->target) && rs_plan_deletes(plan, ty->target);
			if (ty->emptied)
				g->rows += ty->rows;
			if (ty->unresolved != NULL)
			{
				if (nunresolved < RS_GENERIC_SHOWN)
					appendStringInfo(&unresolved, "%s%s (%s, %s row(s))", nunresolved ? ", " : "",
									 quote_literal_cstr(ty->shown), ty->unresolved,
									 rs_format_count(ty->rows));
				nunresolved++;
			}
		}
		g->types = types;
		if (nunresolved > 0)
			rs_plan_add_warning(plan,
								"%d type value(s) of the generic reference %s.%s map to no table, so their rows are kept: %s%s; "
								"map them with targets: SELECT reset_register_generic(%s, %s, %s, targets => '{\"<%s>\": \"<schema.table>\"}'%s);",
								nunresolved, g->name, g->reg->type_column, unresolved.data,
								nunresolved > RS_GENERIC_SHOWN ? ", ..." : "",
								quote_literal_cstr(g->qname), quote_literal_cstr(g->reg->type_column),
								quote_literal_cstr(g->reg->id_column),
								g->reg->convention && strcmp(g->reg->convention, "django") == 0
								? "app_label.model" : "type value",
								g->reg->convention
								? psprintf(", convention => '%s'", g->reg->convention) : "");
	}
}
