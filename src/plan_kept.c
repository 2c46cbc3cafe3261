/*-------------------------------------------------------------------------
 *
 * plan_kept.c
 *	  Kept rows that point into emptied tables: the foreign keys from a
 *	  table the reset keeps (preserved, or not registered at all) into a
 *	  table it empties.
 *
 * Every kept row whose key is set points at a row that goes, so the reset
 * deals with those rows before the deletes, the way PostgreSQL itself
 * would on DELETE:
 *
 *	- ON DELETE SET NULL (with PostgreSQL 15's column lists) and ON DELETE
 *	  SET DEFAULT (when the default is NULL): the declared action is
 *	  applied to the kept rows;
 *	- NO ACTION and RESTRICT: the columns registered with
 *	  reset_register_nullify() are set to NULL (a registration also turns
 *	  SET DEFAULT into SET NULL);
 *	- everything else blocks the plan, with a fix that works: ON DELETE
 *	  CASCADE (the kept rows would be deleted), a NOT NULL column, a SET
 *	  DEFAULT whose default is not NULL (the kept rows would point at a
 *	  row the reset deletes), a NO ACTION or RESTRICT key nothing was
 *	  registered for.
 *
 * The foreign keys are read when the plan is resolved (and again under the
 * reset's locks), so the token covers the actions the reset will apply: a
 * foreign key added after the plan was read makes the old token fail.
 * The kept tables whose rows change are locked with the emptied ones.
 * kept_run.c carries the actions out.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "plan.h"
#include "reset_system.h"

/* Postgres allows at most 1664 target columns; count in chunks. */
#define RS_COUNT_CHUNK 400

/*
 * text_array_list: a text[] column of the current SPI row as a List of C
 * strings (NIL when NULL).
 */
static List *
text_array_list(int row, int col)
{
	bool		isnull;
	Datum		d = rs_spi_datum(row, col, &isnull);

	return isnull ? NIL : rs_text_array_to_list(d);
}

/*
 * find_nullify: the reset_register_nullify() registration of relid.
 */
static RsNullify *
find_nullify(RsPlan *plan, Oid relid)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->nullify)
		if (((RsNullify *) lfirst(lc))->relid == relid)
			return (RsNullify *) lfirst(lc);
	return NULL;
}

/*
 * find_registration: relid's own registration, or NULL.
 */
static RsTable *
find_registration(RsPlan *plan, Oid relid)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (!t->missing && t->relid == relid)
			return t;
	}
	return NULL;
}

/*
 * block: record why k blocks the plan; rs_kept_analyze turns it into a
 * blocker with its fixes.
 */
static void
block(RsKeptFk *k, const char *why, const char *column, const char *default_expr)
{
	k->action = RS_KEPT_BLOCKED;
	k->why = why;
	k->why_column = column ? pstrdup(column) : NULL;
	k->why_default = default_expr ? pstrdup(default_expr) : NULL;
}

/*
 * decide: what the reset does with the kept rows behind k, from its
 * declared ON DELETE action, the NOT NULL flags and defaults of its
 * columns, and a reset_register_nullify() registration.
 */
static void
decide(RsPlan *plan, RsKeptFk *k, List *defaults, List *setcols)
{
	RsNullify  *nl = find_nullify(plan, k->relid);
	List	   *registered = NIL;
	ListCell   *lc;
	ListCell   *lc2;

	if (nl != NULL && k->deltype != 'c')
		foreach(lc, k->fk_columns)
			if (rs_str_member(nl->columns, (char *) lfirst(lc)))
				registered = lappend(registered, lfirst(lc));

	if (k->deltype == 'c')
	{
		block(k, "cascade", NULL, NULL);
		return;
	}
	if (registered != NIL)
	{
		k->nullify = true;
		k->set_columns = registered;
		/* MATCH FULL: a key is NULL in all its columns or in none */
		if (k->matchtype == 'f' && list_length(registered) < list_length(k->fk_columns))
		{
			block(k, "match full", NULL, NULL);
			return;
		}
		k->action = RS_KEPT_SET_NULL;
	}
	else if (k->deltype == 'n')
	{
		k->set_columns = setcols != NIL ? setcols : k->fk_columns;
		k->action = RS_KEPT_SET_NULL;
	}
	else if (k->deltype == 'd')
	{
		k->set_columns = setcols != NIL ? setcols : k->fk_columns;
		k->action = RS_KEPT_SET_DEFAULT;
		forboth(lc, k->fk_columns, lc2, defaults)
		{
			char	   *expr = (char *) lfirst(lc2);

			if (!rs_str_member(k->set_columns, (char *) lfirst(lc)))
				continue;
			if (expr != NULL && strcmp(expr, "NULL") != 0 && strncmp(expr, "NULL::", 6) != 0)
			{
				block(k, "default", (char *) lfirst(lc), expr);
				return;
			}
		}
	}
	else
	{
		block(k, "no action", NULL, NULL);
		return;
	}

	/* the columns it sets to NULL must allow it */
	foreach(lc, k->set_columns)
		if (rs_str_member(k->notnull_columns, (char *) lfirst(lc)))
		{
			block(k, "not null", (char *) lfirst(lc), NULL);
			return;
		}
}

/*
 * rs_kept_resolve: every foreign key from a kept table into a table the
 * reset empties, with what the reset does to the rows behind it; the
 * registered generic references (plan_generic.c); and the kept tables
 * whose rows the reset changes (locked with the emptied tables).
 */
void
rs_kept_resolve(RsPlan *plan)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];
	int			n;
	ListCell   *lc;

	plan->kept_fks = NIL;
	plan->generics = NIL;
	plan->kept_changed = NIL;
	if (plan->effective_delete == NIL)
		return;

	values[0] = rs_oid_array(plan->effective_delete);
	n = rs_spi("SELECT c.oid, c.conname::pg_catalog.text, c.conrelid, c.confrelid,"
			   " c.confdeltype::pg_catalog.text, c.confmatchtype::pg_catalog.text,"
			   " ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.unnest(c.conkey) WITH ORDINALITY k(n, i)"
			   "   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.conrelid"
			   "    AND a.attnum OPERATOR(pg_catalog.=) k.n ORDER BY k.i),"
			   " ARRAY(SELECT a.attnotnull FROM pg_catalog.unnest(c.conkey) WITH ORDINALITY k(n, i)"
			   "   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.conrelid"
			   "    AND a.attnum OPERATOR(pg_catalog.=) k.n ORDER BY k.i),"
			   " ARRAY(SELECT COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid), ty.typdefault)"
			   "   FROM pg_catalog.unnest(c.conkey) WITH ORDINALITY k(n, i)"
			   "   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.conrelid"
			   "    AND a.attnum OPERATOR(pg_catalog.=) k.n"
			   "   LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid OPERATOR(pg_catalog.=) c.conrelid"
			   "    AND d.adnum OPERATOR(pg_catalog.=) k.n"
			   "   LEFT JOIN pg_catalog.pg_type ty ON ty.oid OPERATOR(pg_catalog.=) a.atttypid"
			   "    AND ty.typtype OPERATOR(pg_catalog.=) 'd'"
			   "   ORDER BY k.i),"
			   " ARRAY(SELECT a.attname::pg_catalog.text FROM pg_catalog.unnest(c.confdelsetcols) WITH ORDINALITY k(n, i)"
			   "   JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) c.conrelid"
			   "    AND a.attnum OPERATOR(pg_catalog.=) k.n ORDER BY k.i),"
			   " pg_catalog.pg_get_constraintdef(c.oid),"
			   " pg_catalog.obj_description(c.oid, 'pg_constraint')"
			   " FROM pg_catalog.pg_constraint c"
			   " JOIN pg_catalog.pg_class r ON r.oid OPERATOR(pg_catalog.=) c.conrelid"
			   " JOIN pg_catalog.pg_namespace ns ON ns.oid OPERATOR(pg_catalog.=) r.relnamespace"
			   " WHERE c.contype OPERATOR(pg_catalog.=) 'f'"
			   "   AND c.conparentid OPERATOR(pg_catalog.=) 0"
			   "   AND c.confrelid OPERATOR(pg_catalog.=) ANY ($1)"
			   "   AND NOT c.conrelid OPERATOR(pg_catalog.=) ANY ($1)"
			   " ORDER BY ns.nspname, r.relname, c.conname",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		RsKeptFk   *k = palloc0(sizeof(RsKeptFk));
		RsTable    *reg;
		int			nnotnull;
		List	   *defaults = NIL;
		List	   *setcols;
		bool		isnull;
		Datum		d;
		ArrayType  *arr;
		Datum	   *elems;
		bool	   *nulls;
		int			nelems;

		k->conoid = rs_spi_oid(i, 0);
		k->conname = rs_spi_text(i, 1);
		k->relid = rs_spi_oid(i, 2);
		k->referenced = rs_spi_oid(i, 3);
		k->deltype = rs_spi_text(i, 4)[0];
		k->matchtype = rs_spi_text(i, 5)[0];
		k->fk_columns = text_array_list(i, 6);

		d = rs_spi_datum(i, 7, &isnull);
		arr = DatumGetArrayTypeP(d);
		deconstruct_array(arr, BOOLOID, 1, true, TYPALIGN_CHAR, &elems, &nulls, &nelems);
		nnotnull = nelems;
		for (int j = 0; j < nelems && j < list_length(k->fk_columns); j++)
			if (!nulls[j] && DatumGetBool(elems[j]))
				k->notnull_columns = lappend(k->notnull_columns, list_nth(k->fk_columns, j));

		d = rs_spi_datum(i, 8, &isnull);
		arr = DatumGetArrayTypeP(d);
		deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &nelems);
		for (int j = 0; j < nelems; j++)
			defaults = lappend(defaults, nulls[j] ? NULL : TextDatumGetCString(elems[j]));

		setcols = text_array_list(i, 9);
		k->definition = rs_spi_text(i, 10);
		k->comment = rs_spi_isnull(i, 11) ? NULL : rs_spi_text(i, 11);
		k->relkind = get_rel_relkind(k->relid);
		k->name = rs_qualified_name(k->relid, false);
		k->qname = rs_qualified_name(k->relid, true);
		k->preserved = rs_plan_find_preserve(plan, k->relid) != NULL;
		reg = find_registration(plan, k->relid);
		k->label = reg ? reg->label : get_rel_name(k->relid);
		k->rows = -1;
		if (list_length(defaults) != list_length(k->fk_columns) ||
			nnotnull != list_length(k->fk_columns))
			elog(ERROR, "reset_system: columns of constraint \"%s\" changed while the plan read them",
				 k->conname);
		decide(plan, k, defaults, setcols);
		plan->kept_fks = lappend(plan->kept_fks, k);
		if (k->action != RS_KEPT_BLOCKED)
			plan->kept_changed = list_append_unique_oid(plan->kept_changed, k->relid);
	}
	SPI_freetuptable(SPI_tuptable);

	rs_generic_resolve(plan);
	foreach(lc, plan->generics)
		plan->kept_changed = list_append_unique_oid(plan->kept_changed,
													((RsGeneric *) lfirst(lc))->reg->relid);
}

/*
 * rs_kept_fk_column_list: "app.orgs.default_workflow_id", or
 * "app.orgs.(a, b)" for several columns.
 */
char *
rs_kept_fk_column_list(RsKeptFk *k, List *columns)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s.", k->qname);
	if (list_length(columns) > 1)
		appendStringInfoChar(&buf, '(');
	foreach(lc, columns)
		appendStringInfo(&buf, "%s%s", lc == list_head(columns) ? "" : ", ",
						 quote_identifier((char *) lfirst(lc)));
	if (list_length(columns) > 1)
		appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * array_literal: ARRAY['a', 'b'] for the fixes.
 */
static char *
array_literal(List *strings)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "ARRAY[");
	foreach(lc, strings)
		appendStringInfo(&buf, "%s%s", lc == list_head(strings) ? "" : ", ",
						 quote_literal_cstr((char *) lfirst(lc)));
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * delete_call: the registration that lets the reset empty the kept table
 * behind k too (the root of its preserved tree, when it is in one).
 */
static char *
delete_call(RsPlan *plan, RsKeptFk *k)
{
	RsTable    *root = rs_plan_find_preserve(plan, k->relid);

	if (root != NULL)
		return rs_register_table_call(root->relid, RS_ACTION_DELETE, root->label,
									  root->storage_columns);
	return rs_register_table_call(k->relid, RS_ACTION_DELETE, k->label, NIL);
}

/*
 * nullable_columns: the columns of k a registration may set to NULL to
 * remove its blocker (its nullable columns; under MATCH FULL all of its
 * columns, or none when one of them is NOT NULL).  NIL when none.
 */
static List *
nullable_columns(RsKeptFk *k)
{
	List	   *result = NIL;
	ListCell   *lc;

	if (k->deltype == 'c')
		return NIL;
	foreach(lc, k->fk_columns)
	{
		if (rs_str_member(k->notnull_columns, (char *) lfirst(lc)))
		{
			if (k->matchtype == 'f')
				return NIL;
			continue;
		}
		result = lappend(result, lfirst(lc));
	}
	return result;
}

/*
 * nullify_call: the reset_register_nullify() call that removes k's
 * blocker: the columns registered for its table already, and the
 * nullable columns of every blocked foreign key of that table (a
 * registration replaces the previous one, so each blocker's fix keeps the
 * others fixed).  NULL when k has no column that may be NULL.
 */
static char *
nullify_call(RsPlan *plan, RsKeptFk *k)
{
	RsNullify  *nl = find_nullify(plan, k->relid);
	List	   *columns = nl ? list_copy(nl->columns) : NIL;
	ListCell   *lc;

	if (nullable_columns(k) == NIL)
		return NULL;
	foreach(lc, plan->kept_fks)
	{
		RsKeptFk   *other = (RsKeptFk *) lfirst(lc);
		ListCell   *lc2;

		if (other->relid != k->relid || other->action != RS_KEPT_BLOCKED)
			continue;
		foreach(lc2, nullable_columns(other))
			if (!rs_str_member(columns, (char *) lfirst(lc2)))
				columns = lappend(columns, lfirst(lc2));
	}
	return psprintf("SELECT reset_register_nullify(%s, %s);",
					quote_literal_cstr(k->qname), array_literal(columns));
}

/*
 * rs_kept_analyze: a blocker for each kept foreign key the reset cannot
 * deal with, with the statements that fix it.
 */
void
rs_kept_analyze(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->kept_fks)
	{
		RsKeptFk   *k = (RsKeptFk *) lfirst(lc);
		char	   *to;
		const char *kept = k->preserved ? "registered for preservation" : "not registered";
		char	   *del;
		char	   *nul;
		char	   *message;
		char	   *detail;
		char	   *hint;
		RsBlocker  *b;

		if (k->action != RS_KEPT_BLOCKED)
			continue;
		to = rs_qualified_name(k->referenced, false);
		del = delete_call(plan, k);
		message = psprintf("table \"%s\" has a foreign key into \"%s\", which a reset empties",
						   k->name, to);
		nul = nullify_call(plan, k);
		if (strcmp(k->why, "cascade") == 0)
		{
			detail = psprintf("Constraint \"%s\" on \"%s\" references \"%s\" ON DELETE CASCADE: \"%s\" is %s, "
							  "and the reset would have to delete its rows; a reset never cascades into kept rows.",
							  k->conname, k->name, to, k->name, kept);
			hint = psprintf("Let the reset empty \"%s\" too: %s", k->name, del);
			nul = NULL;
		}
		else if (strcmp(k->why, "not null") == 0)
		{
			detail = psprintf("Constraint \"%s\" on \"%s\" references \"%s\", and column \"%s\" is NOT NULL: "
							  "\"%s\" is %s, and its rows that point there can be neither kept as they are nor set to NULL.",
							  k->conname, k->name, to, k->why_column, k->name, kept);
			hint = nul
				? psprintf("Let the reset empty \"%s\" too: %s or set its other nullable columns to NULL: %s",
						   k->name, del, nul)
				: psprintf("Let the reset empty \"%s\" too: %s", k->name, del);
		}
		else if (strcmp(k->why, "default") == 0)
		{
			detail = psprintf("Constraint \"%s\" on \"%s\" references \"%s\" ON DELETE SET DEFAULT, and the default "
							  "of column \"%s\" is %s: the kept rows would point at a row the reset deletes.",
							  k->conname, k->name, to, k->why_column, k->why_default);
			hint = nul
				? psprintf("Set the column to NULL instead: %s or let the reset empty \"%s\" too: %s",
						   nul, k->name, del)
				: psprintf("Let the reset empty \"%s\" too: %s", k->name, del);
		}
		else if (strcmp(k->why, "match full") == 0)
		{
			detail = psprintf("Constraint \"%s\" on \"%s\" references \"%s\" with MATCH FULL: its columns are NULL "
							  "all together or not at all, and only some of them are registered to be set to NULL.",
							  k->conname, k->name, to);
			hint = nul
				? psprintf("Register all of them: %s or let the reset empty \"%s\" too: %s", nul, k->name, del)
				: psprintf("Let the reset empty \"%s\" too: %s", k->name, del);
		}
		else
		{
			detail = psprintf("Constraint \"%s\" on \"%s\" references \"%s\" (ON DELETE %s): \"%s\" is %s, "
							  "and its rows that point there would block the deletes.",
							  k->conname, k->name, to, k->deltype == 'r' ? "RESTRICT" : "NO ACTION",
							  k->name, kept);
			hint = nul
				? psprintf("Set those pointers to NULL in the kept rows: %s or let the reset empty \"%s\" too: %s",
						   nul, k->name, del)
				: psprintf("Let the reset empty \"%s\" too: %s", k->name, del);
		}
		b = rs_plan_add_blocker(plan, ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST, message, detail, hint);
		if (nul)
			rs_blocker_fix(b, nul);
		rs_blocker_fix(b, del);
	}
}

/*
 * rs_kept_count: how many kept rows each foreign key action changes: the
 * rows whose key is set in all its columns (a key with a NULL column
 * points nowhere).  A few queries, many counts in each.
 */
void
rs_kept_count(RsPlan *plan)
{
	List	   *todo = NIL;
	int			total;
	ListCell   *lc;

	foreach(lc, plan->kept_fks)
		if (((RsKeptFk *) lfirst(lc))->action != RS_KEPT_BLOCKED)
			todo = lappend(todo, lfirst(lc));
	total = list_length(todo);
	for (int start = 0; start < total; start += RS_COUNT_CHUNK)
	{
		StringInfoData sql;
		int			end = Min(start + RS_COUNT_CHUNK, total);

		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT ");
		for (int i = start; i < end; i++)
		{
			RsKeptFk   *k = (RsKeptFk *) list_nth(todo, i);
			ListCell   *lc2;

			appendStringInfo(&sql, "%s(SELECT pg_catalog.count(*) FROM %s%s WHERE ",
							 i > start ? ", " : "",
							 k->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ", k->qname);
			foreach(lc2, k->fk_columns)
				appendStringInfo(&sql, "%s%s IS NOT NULL", lc2 == list_head(k->fk_columns) ? "" : " AND ",
								 quote_identifier((char *) lfirst(lc2)));
			appendStringInfoChar(&sql, ')');
		}
		rs_spi(sql.data, 0, NULL, NULL, NULL, false, SPI_OK_SELECT);
		for (int i = start; i < end; i++)
			((RsKeptFk *) list_nth(todo, i))->rows = rs_spi_int64(0, i - start, 0);
		SPI_freetuptable(SPI_tuptable);
		pfree(sql.data);
	}
}
