/*-------------------------------------------------------------------------
 *
 * queue.c
 *	  Filling the purge queue inside the reset's transaction.
 *
 * Before the rows go, the non-empty keys in the storage columns of every
 * deleted table are queued (reset_system.purge_queue), with one row per
 * registered prefix.  After the rebuild steps ran, every queued key that a
 * preserved or rebuilt row still references is dropped again: a rebuilt
 * baseline row may point at the same resource file, and purging it would
 * break the fresh install.  Everything here is transactional: a ROLLBACK
 * takes the queue rows back with the reset.
 *
 * The queue is written with the extension owner's rights; the keys are
 * read from the application tables in the same statement.  The caller's
 * right to read those tables was checked when the reset counted them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "queue.h"
#include "reset_system.h"

/*
 * rs_queue_key_sources: "SELECT col::text FROM tbl WHERE col IS NOT NULL AND
 * col <> ''" for every storage column of the given tables, joined with
 * UNION (or UNION ALL when all is set).  NULL when there is none.  A
 * column that was dropped, renamed or retyped since it was registered is
 * left out (it cannot be read as keys; the plan blocks a reset on it), so
 * no caller fails on a registration the schema has moved away from.
 */
char *
rs_queue_key_sources(List *tables, bool all)
{
	StringInfoData sql;
	ListCell   *lc;

	initStringInfo(&sql);
	foreach(lc, tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		foreach(lc2, t->storage_columns)
		{
			const char *col = quote_identifier((char *) lfirst(lc2));
			Oid			type;

			if (rs_storage_column_state(t->relid, (char *) lfirst(lc2), &type) != RS_COLUMN_OK)
				continue;
			appendStringInfo(&sql, "%sSELECT %s::pg_catalog.text AS k FROM %s"
							 " WHERE %s IS NOT NULL AND %s::pg_catalog.text OPERATOR(pg_catalog.<>) ''",
							 sql.len ? (all ? " UNION ALL " : " UNION ") : "",
							 col, t->qname, col, col);
		}
	}
	return sql.len ? sql.data : NULL;
}

/*
 * rs_queue_plan_count: how many distinct keys a reset would queue, less
 * those preserved rows still reference (rebuilt rows are not known before
 * the rebuild runs, so this is an upper bound).
 */
int64
rs_queue_plan_count(RsPlan *plan)
{
	char	   *deleted = rs_queue_key_sources(rs_plan_key_tables(plan, RS_ACTION_DELETE), false);
	char	   *kept = rs_queue_key_sources(rs_plan_key_tables(plan, RS_ACTION_PRESERVE), true);
	char	   *sql;

	if (deleted == NULL)
		return 0;
	if (kept)
		sql = psprintf("SELECT pg_catalog.count(*) FROM (%s) d"
					   " WHERE NOT EXISTS (SELECT 1 FROM (%s) p WHERE p.k OPERATOR(pg_catalog.=) d.k)",
					   deleted, kept);
	else
		sql = psprintf("SELECT pg_catalog.count(*) FROM (%s) d", deleted);
	rs_spi(sql, 0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	return rs_spi_int64(0, 0, 0);
}

/*
 * rs_queue_capture: queue the keys of the rows about to be deleted, and
 * the registered prefixes.  Returns the number of keys queued.
 */
int64
rs_queue_capture(RsSession *s, RsPlan *plan, int64 reset_id)
{
	char	   *deleted = rs_queue_key_sources(rs_plan_key_tables(plan, RS_ACTION_DELETE), false);
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	int64		queued = 0;

	values[0] = Int64GetDatum(reset_id);
	rs_as_owner_begin(s);
	if (deleted)
		queued = rs_spi(psprintf("INSERT INTO reset_system.purge_queue (reset_id, kind, key)"
								 " SELECT $1, 'object', k FROM (%s) keys"
								 " ON CONFLICT (reset_id, kind, key) DO NOTHING", deleted),
						1, argtypes, values, NULL, false, SPI_OK_INSERT);
	if (plan->storage && plan->storage->prefixes)
		rs_spi("INSERT INTO reset_system.purge_queue (reset_id, kind, key, phase)"
			   " SELECT $1, 'prefix', prefix, 'list' FROM reset_system.storage_prefixes",
			   1, argtypes, values, NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(s);
	return queued;
}

/*
 * rs_queue_spare: after the rebuild, drop the queued keys that a row of a
 * registered table (preserved, or rebuilt into a deleted table) still
 * references, and those the rebuild re-seeds (reset_seed_object): the
 * upload runs after the purge, and purging the key would only race it.
 * Returns how many were dropped.
 */
int64
rs_queue_spare(RsSession *s, RsPlan *plan, int64 reset_id)
{
	List	   *tables = list_concat(rs_plan_key_tables(plan, RS_ACTION_DELETE),
										 rs_plan_key_tables(plan, RS_ACTION_PRESERVE));
	char	   *referenced = rs_queue_key_sources(tables, true);
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	int64		spared;

	values[0] = Int64GetDatum(reset_id);
	rs_as_owner_begin(s);
	spared = rs_spi(psprintf("DELETE FROM reset_system.purge_queue q"
							 " WHERE q.reset_id OPERATOR(pg_catalog.=) $1"
							 "   AND q.kind OPERATOR(pg_catalog.=) 'object'"
							 "   AND (q.key IN (SELECT u.key FROM reset_system.purge_queue u"
							 "                   WHERE u.reset_id OPERATOR(pg_catalog.=) $1"
							 "                     AND u.kind OPERATOR(pg_catalog.=) 'upload')%s%s%s)",
							 referenced ? " OR q.key IN (" : "",
							 referenced ? referenced : "",
							 referenced ? ")" : ""),
					1, argtypes, values, NULL, false, SPI_OK_DELETE);
	rs_as_owner_end(s);
	return spared;
}

/*
 * rs_queue_uploads: how many uploads the rebuild steps of this reset
 * queued.
 */
int64
rs_queue_uploads(RsSession *s, int64 reset_id)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	int64		n;

	values[0] = Int64GetDatum(reset_id);
	rs_as_owner_begin(s);
	rs_spi("SELECT pg_catalog.count(*) FROM reset_system.purge_queue"
		   " WHERE reset_id OPERATOR(pg_catalog.=) $1 AND kind OPERATOR(pg_catalog.=) 'upload'",
		   1, argtypes, values, NULL, false, SPI_OK_SELECT);
	n = rs_spi_int64(0, 0, 0);
	rs_as_owner_end(s);
	return n;
}
