/*-------------------------------------------------------------------------
 *
 * purge_totals.c
 *	  The totals of a reset's storage purge, counted one way everywhere
 *	  (purge_totals.h says how), and reset_purge_totals(), the operator's
 *	  view of them per reset.
 *
 * The history row of a reset gets its totals from here when the purge
 * finishes (objects listed under prefixes included), reset_purge_wait()
 * reports from here, and reset_purge_status() counts objects the same
 * way, per state: the numbers an operator reads in different places
 * agree.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"

#include "internal.h"
#include "purge_totals.h"
#include "render.h"

PG_FUNCTION_INFO_V1(reset_purge_totals);

/*
 * rs_purge_totals_read: the totals from row of the last SPI result, whose
 * columns firstcol, firstcol + 1, ... are RS_PURGE_TOTALS_SELECT's.
 */
void
rs_purge_totals_read(int row, int firstcol, RsPurgeTotals *t)
{
	int64	   *fields[RS_PURGE_TOTALS_NCOLS] = {
		&t->objects, &t->purged, &t->kept, &t->cancelled, &t->failed, &t->pending,
		&t->prefixes, &t->prefixes_pending, &t->prefixes_failed,
		&t->uploads, &t->uploaded, &t->uploads_pending, &t->uploads_failed
	};

	for (int i = 0; i < RS_PURGE_TOTALS_NCOLS; i++)
		*fields[i] = rs_spi_int64(row, firstcol + i, 0);
}

/*
 * rs_purge_totals_finished: nothing of the purge is pending any more:
 * no object, no prefix still to list or tidy up, no upload.
 */
bool
rs_purge_totals_finished(const RsPurgeTotals *t)
{
	return t->pending == 0 && t->prefixes_pending == 0 && t->uploads_pending == 0;
}

/*
 * rs_purge_totals_failures: "3 failed object(s), 1 failed prefix(es)"
 * (only the kinds that failed), or NULL when nothing failed.
 */
char *
rs_purge_totals_failures(const RsPurgeTotals *t)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (t->failed > 0)
		appendStringInfo(&buf, "%s failed object(s)", rs_format_count(t->failed));
	if (t->prefixes_failed > 0)
		appendStringInfo(&buf, "%s%s failed prefix(es)", buf.len ? ", " : "",
						 rs_format_count(t->prefixes_failed));
	if (t->uploads_failed > 0)
		appendStringInfo(&buf, "%s%s failed upload(s)", buf.len ? ", " : "",
						 rs_format_count(t->uploads_failed));
	return buf.len ? buf.data : NULL;
}

/*
 * reset_purge_totals(reset_id bigint DEFAULT NULL): one row per completed
 * reset (newest first), or for the one given: its purge counted from the
 * queue now, and when the purge finished.  For operators, who cannot read
 * the extension's tables.
 */
Datum
reset_purge_totals(PG_FUNCTION_ARGS)
{
	RsSession	s;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char		nulls[1];
	int			n;

	values[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';

	store = rs_srf_begin(fcinfo, &tupdesc);
	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	n = rs_spi("SELECT h.id, h.finished_at, t.*, h.purge_finished_at"
			   " FROM reset_system.history h,"
			   " LATERAL (SELECT" RS_PURGE_TOTALS_SELECT
			   "   FROM reset_system.purge_queue q WHERE q.reset_id OPERATOR(pg_catalog.=) h.id) t"
			   " WHERE $1 IS NULL OR h.id OPERATOR(pg_catalog.=) $1"
			   " ORDER BY h.id DESC",
			   1, argtypes, values, nulls, true, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		Datum		v[RS_PURGE_TOTALS_NCOLS + 3];
		bool		isnull[RS_PURGE_TOTALS_NCOLS + 3];

		for (int c = 0; c < RS_PURGE_TOTALS_NCOLS + 3; c++)
			v[c] = rs_spi_datum(i, c, &isnull[c]);
		tuplestore_putvalues(store, tupdesc, v, isnull);
	}
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);
	return (Datum) 0;
}
