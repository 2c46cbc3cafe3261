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
 *	  (or the registered SET NULL): one UPDATE per kept table, firing its
 *	  UPDATE triggers as PostgreSQL's own action would;
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
 * points_somewhere: "a IS NOT NULL AND b IS NOT NULL": the kept rows
 * whose key k is set (a key with a NULL column points nowhere).
 */
static char *
points_somewhere(RsKeptFk *k)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '(');
	foreach(lc, k->fk_columns)
		appendStringInfo(&buf, "%s%s IS NOT NULL", lc == list_head(k->fk_columns) ? "" : " AND ",
						 quote_identifier((char *) lfirst(lc)));
	appendStringInfoChar(&buf, ')');
	return buf.data;
}

/*
 * update_table: apply the actions of the kept foreign keys keys (all of
 * one table) in ONE statement, so that no row is updated twice: a row
 * updated again in the same transaction has every foreign key of it
 * checked again, also one that was never validated.  Each column is set
 * to NULL in the rows where a key that sets it points somewhere (the
 * defaults of SET DEFAULT are NULL: the plan blocks any other).  The rows
 * each key changes are counted first (the tables are locked), into
 * k->rows.
 */
static void
update_table(List *keys)
{
	RsKeptFk   *first = (RsKeptFk *) linitial(keys);
	const char *only = first->relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ";
	StringInfoData count;
	StringInfoData sql;
	List	   *columns = NIL;
	ListCell   *lc;
	int			i = 0;

	initStringInfo(&count);
	appendStringInfoString(&count, "SELECT ");
	foreach(lc, keys)
		appendStringInfo(&count, "%spg_catalog.count(*) FILTER (WHERE %s)", i++ ? ", " : "",
						 points_somewhere((RsKeptFk *) lfirst(lc)));
	appendStringInfo(&count, " FROM %s%s", only, first->qname);
	rs_spi(count.data, 0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	i = 0;
	foreach(lc, keys)
		((RsKeptFk *) lfirst(lc))->rows = rs_spi_int64(0, i++, 0);

	foreach(lc, keys)
	{
		ListCell   *lc2;

		foreach(lc2, ((RsKeptFk *) lfirst(lc))->set_columns)
			if (!rs_str_member(columns, (char *) lfirst(lc2)))
				columns = lappend(columns, lfirst(lc2));
	}
	initStringInfo(&sql);
	appendStringInfo(&sql, "UPDATE %s%s SET ", only, first->qname);
	foreach(lc, columns)
	{
		char	   *col = (char *) lfirst(lc);
		ListCell   *lc2;
		int			n = 0;

		appendStringInfo(&sql, "%s%s = CASE WHEN ", lc == list_head(columns) ? "" : ", ",
						 quote_identifier(col));
		foreach(lc2, keys)
		{
			RsKeptFk   *k = (RsKeptFk *) lfirst(lc2);

			if (rs_str_member(k->set_columns, col))
				appendStringInfo(&sql, "%s%s", n++ ? " OR " : "", points_somewhere(k));
		}
		appendStringInfo(&sql, " THEN NULL ELSE %s END", quote_identifier(col));
	}
	appendStringInfoString(&sql, " WHERE ");
	i = 0;
	foreach(lc, keys)
		appendStringInfo(&sql, "%s%s", i++ ? " OR " : "", points_somewhere((RsKeptFk *) lfirst(lc)));
	rs_spi(sql.data, 0, NULL, NULL, NULL, false, SPI_OK_UPDATE);
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

	/* the keys of one table come together (ordered by table) */
	foreach(lc, plan->kept_fks)
	{
		RsKeptFk   *k = (RsKeptFk *) lfirst(lc);
		List	   *keys = NIL;
		ListCell   *lc2;

		if (k->action == RS_KEPT_BLOCKED || k->applied)
			continue;
		for_each_from(lc2, plan->kept_fks, foreach_current_index(lc))
		{
			RsKeptFk   *other = (RsKeptFk *) lfirst(lc2);

			if (other->relid == k->relid && other->action != RS_KEPT_BLOCKED)
				keys = lappend(keys, other);
		}
		update_table(keys);
		foreach(lc2, keys)
		{
			RsKeptFk   *done = (RsKeptFk *) lfirst(lc2);

			report(buf, psprintf("Set %s %s in %s %s row(s) (%s).",
								 done->action == RS_KEPT_SET_DEFAULT ? "to DEFAULT" : "NULL",
								 rs_kept_fk_column_list(done, done->set_columns),
								 rs_format_count(done->rows), kept_kind(done->preserved),
								 rs_kept_why(done)));
		}
		/* mark them done (rows are reported already) */
		foreach(lc2, keys)
			((RsKeptFk *) lfirst(lc2))->applied = true;
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
 * needs_recreate: will k's constraint be dropped around the TRUNCATE of
 * the table it references (once rs_strategy_decide chose the methods)?
 */
static bool
needs_recreate(RsPlan *plan, RsKeptFk *k, RsTable **to)
{
	if (k->action == RS_KEPT_BLOCKED || rs_mode != RS_MODE_TRUNCATE)
		return false;
	*to = rs_plan_find_delete(plan, k->referenced);
	return *to != NULL && (*to)->method == RS_METHOD_TRUNCATE;
}

/*
 * owner_message: why the caller cannot have k's constraint dropped.
 */
static void
owner_message(RsKeptFk *k, RsTable *to, char **message, char **detail, char **hint)
{
	*message = psprintf("must be owner of table \"%s\" to truncate \"%s\", which it references",
						k->name, to->name);
	*detail = psprintf("TRUNCATE refuses a table that a kept table references; the reset drops constraint \"%s\" "
					   "around the TRUNCATE and creates it again, which needs the owner's rights.",
					   k->conname);
	*hint = psprintf("Run the reset as the owner of \"%s\" (or a member of its owner role), or empty the tables "
					 "with DELETE: SET reset_system.mode = 'delete';", k->name);
}

/*
 * rs_kept_check_owners: for the plan, once the methods are chosen: a kept
 * table's constraint that the reset would have to drop, and the caller
 * does not own, blocks the plan (the reset would fail there).
 */
void
rs_kept_check_owners(RsPlan *plan)
{
	ListCell   *lc;
	List	   *said = NIL;

	foreach(lc, plan->kept_fks)
	{
		RsKeptFk   *k = (RsKeptFk *) lfirst(lc);
		RsTable    *to;
		char	   *message;
		char	   *detail;
		char	   *hint;

		if (!needs_recreate(plan, k, &to) || rs_class_ownercheck(k->relid, GetUserId()))
			continue;
		owner_message(k, to, &message, &detail, &hint);
		/* one blocker for each kept table and emptied table */
		if (rs_str_member(said, message))
			continue;
		said = lappend(said, message);
		rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_INSUFFICIENT_PRIVILEGE, message, detail, hint),
					   pstrdup("SET reset_system.mode = 'delete';"));
	}
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
		if (!needs_recreate(plan, k, &to))
			continue;
		if (!rs_class_ownercheck(k->relid, GetUserId()))
		{
			char	   *message;
			char	   *detail;
			char	   *hint;

			owner_message(k, to, &message, &detail, &hint);
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("%s", message), errdetail("%s", detail), errhint("%s", hint)));
		}
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
