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

#include "catalog/pg_collation.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "compat.h"

#include "queue.h"
#include "reset_system.h"

/*
 * append_column_source: "SELECT col::text AS k FROM tbl WHERE col IS NOT
 * NULL AND col <> ''" for one storage column, after sep when sql is not
 * empty.  False when the column cannot be read as keys (dropped, renamed
 * or retyped since it was registered; the plan blocks a reset on it), so
 * no caller fails on a registration the schema has moved away from.
 */
static bool
append_column_source(StringInfo sql, RsTable *t, const char *column, const char *sep)
{
	const char *col = quote_identifier(column);
	Oid			type;

	if (rs_storage_column_state(t->relid, column, &type) != RS_COLUMN_OK)
		return false;
	appendStringInfo(sql, "%sSELECT %s::pg_catalog.text AS k FROM %s"
					 " WHERE %s IS NOT NULL AND %s::pg_catalog.text OPERATOR(pg_catalog.<>) ''",
					 sql->len ? sep : "", col, t->qname, col, col);
	return true;
}

/*
 * rs_queue_key_sources: the key query (append_column_source) of every
 * storage column of the given tables, joined with UNION (or UNION ALL when
 * all is set).  NULL when there is none.  One statement over all of them:
 * for a few tables only (kept_run.c, one table); many tables go through
 * rs_queue_key_source_chunks.
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
			append_column_source(&sql, t, (char *) lfirst(lc2), all ? " UNION ALL " : " UNION ");
	}
	return sql.len ? sql.data : NULL;
}

/*
 * rs_queue_key_source_chunks: the same key queries, in chunks of at most
 * RS_KEY_CHUNK storage columns joined with UNION (or UNION ALL when all is
 * set): a List of query texts, NIL when there is none.  One statement over thousands of tables costs the planner
 * memory and time in proportion to the whole (hundreds of megabytes at a
 * few thousand tables, held until the statement ends); chunks bound both,
 * and every caller's work splits over them (a count sums, a DELETE or an
 * UPDATE repeats, a set of matches joins).  "key IN (chunk)" needs UNION:
 * its de-duplicating node keeps its result when the planner rescans it
 * (a nested loop over the queue's rows), where an append of the tables'
 * scans would read every table again for each row.
 */
List *
rs_queue_key_source_chunks(List *tables, bool all)
{
	List	   *chunks = NIL;
	StringInfoData sql;
	int			in_chunk = 0;
	ListCell   *lc;

	initStringInfo(&sql);
	foreach(lc, tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		foreach(lc2, t->storage_columns)
		{
			if (!append_column_source(&sql, t, (char *) lfirst(lc2), all ? " UNION ALL " : " UNION "))
				continue;
			if (++in_chunk == RS_KEY_CHUNK)
			{
				chunks = lappend(chunks, sql.data);
				initStringInfo(&sql);
				in_chunk = 0;
			}
		}
	}
	if (sql.len)
		chunks = lappend(chunks, sql.data);
	return chunks;
}

/*
 * sort_keys: every key the chunked queries return, sorted bytewise (the
 * C collation) in a tuplesort, which spills to disk beyond work_mem.
 */
static Tuplesortstate *
sort_keys(List *chunks)
{
	Tuplesortstate *ts = tuplesort_begin_datum(TEXTOID, TextLessOperator, C_COLLATION_OID, false,
											   work_mem, NULL, TUPLESORT_NONE);
	ListCell   *lc;

	foreach(lc, chunks)
	{
		Portal		portal = SPI_cursor_open_with_args(NULL, (char *) lfirst(lc), 0, NULL, NULL, NULL,
													   true, 0);

		for (;;)
		{
			SPI_cursor_fetch(portal, true, 1000);
			if (SPI_processed == 0)
				break;
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				bool		isnull;
				Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

				if (!isnull)
					tuplesort_putdatum(ts, d, false);
			}
			SPI_freetuptable(SPI_tuptable);
		}
		SPI_freetuptable(SPI_tuptable);
		SPI_cursor_close(portal);
	}
	tuplesort_performsort(ts);
	return ts;
}

/*
 * key_cmp: the bytewise order of two keys (the C collation).
 */
static int
key_cmp(Datum a, Datum b)
{
	return DatumGetInt32(DirectFunctionCall2Coll(bttextcmp, C_COLLATION_OID, a, b));
}

/*
 * count_sorted: how many distinct keys of the deleted tables' chunks no
 * key of the kept tables' chunks equals: both sorted, then walked side by
 * side, one key of each in memory at a time.
 */
static int64
count_sorted(List *deleted, List *kept)
{
	Tuplesortstate *del = sort_keys(deleted);
	Tuplesortstate *keep = kept ? sort_keys(kept) : NULL;
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "reset_system key count",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Datum		prev = (Datum) 0;
	bool		have_prev = false;
	Datum		k = (Datum) 0;
	bool		have_k = false;
	int64		n = 0;
	Datum		d;
	bool		isnull;

	if (keep)
		have_k = rs_tuplesort_getdatum(keep, &k, &isnull);
	while (rs_tuplesort_getdatum(del, &d, &isnull))
	{
		if (have_prev && key_cmp(prev, d) == 0)
		{
			pfree(DatumGetPointer(d));
			continue;
		}
		while (have_k && key_cmp(k, d) < 0)
		{
			pfree(DatumGetPointer(k));
			have_k = rs_tuplesort_getdatum(keep, &k, &isnull);
		}
		if (!have_k || key_cmp(k, d) != 0)
			n++;
		if (have_prev)
			pfree(DatumGetPointer(prev));
		prev = d;
		have_prev = true;
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	tuplesort_end(del);
	if (keep)
		tuplesort_end(keep);
	return n;
}

/*
 * rs_queue_plan_count: how many distinct keys a reset would queue, less
 * those preserved rows still reference (rebuilt rows are not known before
 * the rebuild runs, so this is an upper bound).  Keys of one chunk of
 * tables are counted by one statement; keys of more are sorted and
 * counted by count_sorted (distinct across all the chunks).
 */
int64
rs_queue_plan_count(RsPlan *plan)
{
	List	   *deleted = rs_queue_key_source_chunks(rs_plan_key_tables(plan, RS_ACTION_DELETE), false);
	List	   *kept = rs_queue_key_source_chunks(rs_plan_key_tables(plan, RS_ACTION_PRESERVE), false);
	char	   *sql;

	if (deleted == NIL)
		return 0;
	if (list_length(deleted) > 1 || list_length(kept) > 1)
		return count_sorted(deleted, kept);
	if (kept)
		sql = psprintf("SELECT pg_catalog.count(*) FROM (%s) d"
					   " WHERE NOT EXISTS (SELECT 1 FROM (%s) p WHERE p.k OPERATOR(pg_catalog.=) d.k)",
					   (char *) linitial(deleted), (char *) linitial(kept));
	else
		sql = psprintf("SELECT pg_catalog.count(*) FROM (%s) d", (char *) linitial(deleted));
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
	List	   *chunks = rs_queue_key_source_chunks(rs_plan_key_tables(plan, RS_ACTION_DELETE), false);
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	int64		queued = 0;
	ListCell   *lc;

	values[0] = Int64GetDatum(reset_id);
	rs_as_owner_begin(s);
	/* a key in several chunks is queued once: the conflict skips it */
	foreach(lc, chunks)
		queued += rs_spi(psprintf("INSERT INTO reset_system.purge_queue (reset_id, kind, key)"
								  " SELECT $1, 'object', k FROM (%s) keys"
								  " ON CONFLICT (reset_id, kind, key) DO NOTHING", (char *) lfirst(lc)),
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
 * Returns how many were dropped (one statement for the re-seeded keys,
 * one per chunk of storage columns; a row goes once, so the counts add).
 */
int64
rs_queue_spare(RsSession *s, RsPlan *plan, int64 reset_id)
{
	List	   *tables = list_concat(rs_plan_key_tables(plan, RS_ACTION_DELETE),
										 rs_plan_key_tables(plan, RS_ACTION_PRESERVE));
	List	   *chunks = rs_queue_key_source_chunks(tables, false);
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	int64		spared;
	ListCell   *lc;

	values[0] = Int64GetDatum(reset_id);
	rs_as_owner_begin(s);
	spared = rs_spi("DELETE FROM reset_system.purge_queue q"
					" WHERE q.reset_id OPERATOR(pg_catalog.=) $1"
					"   AND q.kind OPERATOR(pg_catalog.=) 'object'"
					"   AND q.key IN (SELECT u.key FROM reset_system.purge_queue u"
					"                  WHERE u.reset_id OPERATOR(pg_catalog.=) $1"
					"                    AND u.kind OPERATOR(pg_catalog.=) 'upload')",
					1, argtypes, values, NULL, false, SPI_OK_DELETE);
	foreach(lc, chunks)
		spared += rs_spi(psprintf("DELETE FROM reset_system.purge_queue q"
								  " WHERE q.reset_id OPERATOR(pg_catalog.=) $1"
								  "   AND q.kind OPERATOR(pg_catalog.=) 'object'"
								  "   AND q.key IN (%s)", (char *) lfirst(lc)),
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
