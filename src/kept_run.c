/*-------------------------------------------------------------------------
 *
 * kept_run.c
 *	  Changing the kept rows that point into emptied tables, inside the
 *	  reset, before the deletes; and keeping TRUNCATE possible.
 *
 * What the plan decided (plan_kept.c, plan_generic.c) is carried out
 * under the reset's locks, on tables the reset holds ACCESS EXCLUSIVE:
 *
 *	- each kept foreign key's rows get their declared ON DELETE action
 *	  (or the registered SET NULL): one UPDATE per foreign key, as
 *	  PostgreSQL's own action would do it, firing the kept table's UPDATE
 *	  triggers;
 *	- each generic reference's rows whose type names an emptied table are
 *	  deleted (their storage keys queued first, when the table has storage
 *	  columns, like the rows of an emptied table).
 *
 * TRUNCATE refuses a table that another table references, even when every
 * referencing value is NULL.  When a table referenced by a kept table is
 * truncated, the kept table's foreign key is dropped just before the
 * TRUNCATE and created again after the rebuild steps, with its name, its
 * definition (ON DELETE action, MATCH, DEFERRABLE and INITIALLY, NOT
 * VALID) and its comment: the end state is the one DELETE (delete mode, or
 * a small table) reaches, and creating it again validates every kept row
 * against the emptied and rebuilt table.  That needs the kept table's
 * owner rights, like the sequences TRUNCATE ... RESTART IDENTITY restarts.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "kept_run.h"
#include "queue.h"
#include "render.h"
#include "reset_system.h"

/*
 * report: NOTICE a report line and append it to the report.
 */
static void
report(StringInfo buf, char *line)
{
	ereport(NOTICE, (errmsg_internal("%s", line)));
	appendStringInfo(buf, "%s\n", line);
}

/*
 * kept_kind: "preserved" or "unregistered", for the report.
 */
static const char *
kept_kind(bool preserved)
{
	return preserved ? "preserved" : "unregistered";
}

/*
 * rs_kept_why: what makes the reset change the rows behind k, in words.
 */
const char *
rs_kept_why(RsKeptFk *k)
{
	if (k->nullify)
		return "registered with reset_register_nullify";
	return k->action == RS_KEPT_SET_DEFAULT ? "ON DELETE SET DEFAULT" : "ON DELETE SET NULL";
}

/*
 * update_fk: set the columns of k in the kept rows that point somewhere
 * (every key column set).  Returns the rows changed.
 */
static int64
update_fk(RsKeptFk *k)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	appendStringInfo(&sql, "UPDATE %s%s SET ",
					 k->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ", k->qname);
	foreach(lc, k->set_columns)
		appendStringInfo(&sql, "%s%s = %s", lc == list_head(k->set_columns) ? "" : ", ",
						 quote_identifier((char *) lfirst(lc)),
						 k->action == RS_KEPT_SET_DEFAULT ? "DEFAULT" : "NULL");
	appendStringInfoString(&sql, " WHERE ");
	foreach(lc, k->fk_columns)
		appendStringInfo(&sql, "%s%s IS NOT NULL", lc == list_head(k->fk_columns) ? "" : " AND ",
						 quote_identifier((char *) lfirst(lc)));
	return rs_spi(sql.data, 0, NULL, NULL, NULL, false, SPI_OK_UPDATE);
}

/*
 * generic_condition: "type_column IN ('a', 'b')" for the type values of g
 * that name emptied tables, or NULL when there is none.
 */
static char *
generic_condition(RsGeneric *g)
{
	StringInfoData buf;
	ListCell   *lc;
	int			n = 0;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s IN (", quote_identifier(g->reg->type_column));
	foreach(lc, g->types)
	{
		RsGenericType *ty = (RsGenericType *) lfirst(lc);

		if (!ty->emptied)
			continue;
		appendStringInfo(&buf, "%s%s", n++ ? ", " : "", quote_literal_cstr(ty->value));
	}
	appendStringInfoChar(&buf, ')');
	return n > 0 ? buf.data : NULL;
}

/*
 * storage_columns_of: the registered storage columns of relid, when it is
 * a registered table.
 */
static List *
storage_columns_of(RsPlan *plan, Oid relid)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (!t->missing && t->relid == relid)
			return t->storage_columns;
	}
	return NIL;
}

/*
 * rs_kept_apply: the kept-row changes, before the deletes; one report
 * line for each.  Returns the storage keys queued for the rows of generic
 * references it deleted.
 */
int64
rs_kept_apply(RsSession *s, RsPlan *plan, int64 reset_id, StringInfo buf)
{
	ListCell   *lc;
	int64		queued = 0;

	foreach(lc, plan->kept_fks)
	{
		RsKeptFk   *k = (RsKeptFk *) lfirst(lc);
		int64		n;

		if (k->action == RS_KEPT_BLOCKED)
			continue;
		n = update_fk(k);
		report(buf, psprintf("Set %s %s in %s %s row(s) (%s).",
							 k->action == RS_KEPT_SET_DEFAULT ? "to DEFAULT" : "NULL",
							 rs_kept_fk_column_list(k, k->set_columns), rs_format_count(n),
							 kept_kind(k->preserved), rs_kept_why(k)));
		k->rows = n;
	}

	foreach(lc, plan->generics)
	{
		RsGeneric  *g = (RsGeneric *) lfirst(lc);
		char	   *cond = generic_condition(g);
		const char *only = g->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ";
		List	   *keys = storage_columns_of(plan, g->reg->relid);

		g->deleted = 0;
		if (cond == NULL)
			continue;
		if (keys != NIL && plan->uses_storage)
		{
			RsTable		tmp;
			char	   *sources;
			Oid			argtypes[1] = {INT8OID};
			Datum		values[1];

			/* the keys of the rows about to go, like the keys of emptied tables */
			memset(&tmp, 0, sizeof(tmp));
			tmp.relid = g->reg->relid;
			tmp.qname = psprintf("(SELECT * FROM %s%s WHERE %s) AS generic_rows", only, g->qname, cond);
			tmp.storage_columns = keys;
			sources = rs_queue_key_sources(list_make1(&tmp), false);
			if (sources != NULL)
			{
				values[0] = Int64GetDatum(reset_id);
				rs_as_owner_begin(s);
				queued += rs_spi(psprintf("INSERT INTO reset_system.purge_queue (reset_id, kind, key)"
										  " SELECT $1, 'object', k FROM (%s) keys"
										  " ON CONFLICT (reset_id, kind, key) DO NOTHING", sources),
								 1, argtypes, values, NULL, false, SPI_OK_INSERT);
				rs_as_owner_end(s);
			}
		}
		g->deleted = rs_spi(psprintf("DELETE FROM %s%s WHERE %s", only, g->qname, cond),
							0, NULL, NULL, NULL, false, SPI_OK_DELETE);
		report(buf, psprintf("Deleted %s %s %s row(s) that pointed at emptied tables (generic reference %s, %s).",
							 rs_format_count(g->deleted), kept_kind(g->preserved), g->label,
							 g->reg->type_column, g->reg->id_column));
	}
	return queued;
}

/*
 * rs_kept_drop_constraints: in truncate mode, drop the foreign keys of
 * kept tables into tables about to be truncated (TRUNCATE would refuse
 * them); rs_kept_recreate_constraints creates them again.
 */
void
rs_kept_drop_constraints(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->kept_fks)
	{
		RsKeptFk   *k = (RsKeptFk *) lfirst(lc);
		RsTable    *to;

		k->recreate = false;
		if (k->action == RS_KEPT_BLOCKED)
			continue;
		to = rs_plan_find_delete(plan, k->referenced);
		if (to == NULL || to->method != RS_METHOD_TRUNCATE)
			continue;
		if (!rs_class_ownercheck(k->relid, GetUserId()))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("must be owner of table \"%s\" to truncate \"%s\", which it references",
							k->name, to->name),
					 errdetail("TRUNCATE refuses a table that a kept table references; the reset drops constraint \"%s\" "
							   "around the TRUNCATE and creates it again, which needs the owner's rights.",
							   k->conname),
					 errhint("Run the reset as the owner of \"%s\" (or a member of its owner role), or empty the tables "
							 "with DELETE: SET reset_system.mode = 'delete';", k->name)));
		rs_spi(psprintf("ALTER TABLE %s DROP CONSTRAINT %s", k->qname, quote_identifier(k->conname)),
			   0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
		k->recreate = true;
	}
}

/*
 * rs_kept_recreate_constraints: create the dropped foreign keys again,
 * after the rebuild steps (a step may re-create the rows a SET DEFAULT
 * points at); each is validated as it is created, unless it was NOT
 * VALID before.
 */
void
rs_kept_recreate_constraints(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->kept_fks)
	{
		RsKeptFk   *k = (RsKeptFk *) lfirst(lc);

		if (!k->recreate)
			continue;
		rs_spi(psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s", k->qname,
						quote_identifier(k->conname), k->definition),
			   0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
		if (k->comment != NULL)
			rs_spi(psprintf("COMMENT ON CONSTRAINT %s ON %s IS %s", quote_identifier(k->conname),
							k->qname, quote_literal_cstr(k->comment)),
				   0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
		k->recreate = false;
	}
}
