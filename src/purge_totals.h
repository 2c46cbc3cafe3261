/*-------------------------------------------------------------------------
 *
 * purge_totals.h
 *	  How the purge of a reset is counted: one definition for the history,
 *	  reset_purge_wait(), reset_purge_totals(), the log and NOTIFY.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_PURGE_TOTALS_H
#define RESET_SYSTEM_PURGE_TOTALS_H

#include "postgres.h"

/*
 * The totals of one reset's purge.  "Objects" are storage keys: those of
 * the storage columns of deleted rows and those listed under registered
 * prefixes, alike.  Every object is purged, kept (a row references it
 * again, or the reset re-seeds it), cancelled (a restore), failed or
 * pending: objects = purged + kept + cancelled + failed + pending.
 * Prefixes and uploads are counted on their own, never as objects.
 */
typedef struct RsPurgeTotals
{
	int64		objects;
	int64		purged;
	int64		kept;
	int64		cancelled;
	int64		failed;
	int64		pending;
	int64		prefixes;
	int64		prefixes_pending;
	int64		prefixes_failed;
	int64		uploads;
	int64		uploaded;
	int64		uploads_pending;
	int64		uploads_failed;
} RsPurgeTotals;

#define RS_PURGE_TOTALS_NCOLS 13

/*
 * The select list computing the totals over rows of
 * reset_system.purge_queue (one reset's), in RsPurgeTotals' order.
 */
#define RS_PURGE_TOTALS_SELECT \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'object') AS objects," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'object'" \
	"   AND outcome OPERATOR(pg_catalog.=) ANY (ARRAY['deleted', 'already gone'])) AS purged," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'object'" \
	"   AND state OPERATOR(pg_catalog.=) 'done'" \
	"   AND NOT (COALESCE(outcome, '') OPERATOR(pg_catalog.=) ANY (ARRAY['deleted', 'already gone'])" \
	"        OR COALESCE(outcome, '') OPERATOR(pg_catalog.~~) 'cancelled%')) AS kept," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'object'" \
	"   AND state OPERATOR(pg_catalog.=) 'done'" \
	"   AND outcome OPERATOR(pg_catalog.~~) 'cancelled%') AS cancelled," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'object'" \
	"   AND state OPERATOR(pg_catalog.=) 'failed') AS failed," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'object'" \
	"   AND state OPERATOR(pg_catalog.=) 'pending') AS pending," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'prefix') AS prefixes," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'prefix'" \
	"   AND state OPERATOR(pg_catalog.=) 'pending') AS prefixes_pending," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'prefix'" \
	"   AND state OPERATOR(pg_catalog.=) 'failed') AS prefixes_failed," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'upload') AS uploads," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'upload'" \
	"   AND outcome OPERATOR(pg_catalog.=) 'uploaded') AS uploaded," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'upload'" \
	"   AND state OPERATOR(pg_catalog.=) 'pending') AS uploads_pending," \
	" pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'upload'" \
	"   AND state OPERATOR(pg_catalog.=) 'failed') AS uploads_failed"

/* The totals of reset $1, as a subquery */
#define RS_PURGE_TOTALS_OF_RESET \
	"SELECT" RS_PURGE_TOTALS_SELECT \
	" FROM reset_system.purge_queue WHERE reset_id OPERATOR(pg_catalog.=) $1"

extern void rs_purge_totals_read(int row, int firstcol, RsPurgeTotals *t);
extern bool rs_purge_totals_finished(const RsPurgeTotals *t);
extern char *rs_purge_totals_failures(const RsPurgeTotals *t);

#endif							/* RESET_SYSTEM_PURGE_TOTALS_H */
