/*-------------------------------------------------------------------------
 *
 * purge_functions.c
 *	  The operator's view of the storage purge: reset_purge_status(),
 *	  reset_purge_wait(), reset_purge_retry() and reset_purge_kick().
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "commit_hook.h"
#include "guards.h"
#include "internal.h"
#include "journal.h"
#include "purge_totals.h"
#include "render.h"
#include "reset_system.h"
#include "shmem.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(reset_purge_status);
PG_FUNCTION_INFO_V1(reset_purge_wait);
PG_FUNCTION_INFO_V1(reset_purge_retry);
PG_FUNCTION_INFO_V1(reset_purge_kick);

/*
 * reset_purge_status(reset_id bigint DEFAULT NULL): one row per state.
 * last_error is the latest error of that state, with how many objects
 * failed the same way (their errors differ only by their own key), as
 * the purge worker's WARNING says it.
 */
Datum
reset_purge_status(PG_FUNCTION_ARGS)
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
	n = rs_spi("SELECT s.state,"
			   " pg_catalog.count(q.id) FILTER (WHERE q.kind OPERATOR(pg_catalog.=) 'object'),"
			   " pg_catalog.min(q.created_at),"
			   " pg_catalog.min(q.next_attempt_at),"
			   " (SELECT e.last_error OPERATOR(pg_catalog.||) CASE WHEN c.n OPERATOR(pg_catalog.>) 1"
			   "    THEN pg_catalog.format(' (%s object(s) failed the same way)', c.n) ELSE '' END"
			   "  FROM (SELECT e.last_error, e.key FROM reset_system.purge_queue e"
			   "   WHERE e.state OPERATOR(pg_catalog.=) s.state AND e.last_error IS NOT NULL"
			   "     AND ($1 IS NULL OR e.reset_id OPERATOR(pg_catalog.=) $1)"
			   "   ORDER BY COALESCE(e.done_at, e.next_attempt_at) DESC, e.id DESC LIMIT 1) e,"
			   "  LATERAL (SELECT pg_catalog.count(*) AS n FROM reset_system.purge_queue o"
			   "   WHERE o.state OPERATOR(pg_catalog.=) s.state AND o.last_error IS NOT NULL"
			   "     AND ($1 IS NULL OR o.reset_id OPERATOR(pg_catalog.=) $1)"
			   "     AND pg_catalog.replace(o.last_error, o.key, '') OPERATOR(pg_catalog.=)"
			   "         pg_catalog.replace(e.last_error, e.key, '')) c),"
			   " pg_catalog.count(DISTINCT q.reset_id)"
			   " FROM (VALUES ('pending', 1), ('done', 2), ('failed', 3)) AS s(state, ord)"
			   " LEFT JOIN reset_system.purge_queue q ON q.state OPERATOR(pg_catalog.=) s.state"
			   "   AND ($1 IS NULL OR q.reset_id OPERATOR(pg_catalog.=) $1)"
			   " GROUP BY s.state, s.ord ORDER BY s.ord",
			   1, argtypes, values, nulls, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		Datum		v[6];
		bool		isnull[6];
		bool		pending = strcmp(rs_spi_text(i, 0), "pending") == 0;

		for (int c = 0; c < 6; c++)
			v[c] = rs_spi_datum(i, c, &isnull[c]);
		if (!pending)
			isnull[3] = true;	/* next_attempt only means something while pending */
		tuplestore_putvalues(store, tupdesc, v, isnull);
	}
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);
	return (Datum) 0;
}

/*
 * worker_lock_held: does a purge worker hold this database's worker lock?
 * Probed through the lock manager without waiting, and let go at once.
 */
static bool
worker_lock_held(Oid dboid)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, dboid, RS_ADVISORY_KEY, RS_ADVISORY_WORKER, 2);
	if (LockAcquire(&tag, ExclusiveLock, true, true) == LOCKACQUIRE_NOT_AVAIL)
		return true;
	LockRelease(&tag, ExclusiveLock, true);
	return false;
}

typedef enum
{
	KICK_RUNNING,				/* a worker already serves the database */
	KICK_STARTED,				/* a worker was started */
	KICK_NO_SLOT				/* none could be started */
} KickResult;

/*
 * start_worker_once: start a purge worker for dboid unless one already
 * holds the worker lock.  Backends that kick at the same time take turns
 * on the kick lock, and each holds it until the worker it started has
 * taken the worker lock (or exited, having nothing to do), so the next one
 * sees it: a burst of kicks registers one worker, not one per kick, and
 * does not use up max_worker_processes.  This is what keeps one worker per
 * database when the library is not preloaded and there is no shared
 * memory to keep count in.
 */
static KickResult
start_worker_once(Oid dboid)
{
	LOCKTAG		kick_tag;
	BackgroundWorkerHandle *handle;
	TimestampTz deadline;

	SET_LOCKTAG_ADVISORY(kick_tag, dboid, RS_ADVISORY_KEY, RS_ADVISORY_KICK, 2);
	(void) LockAcquire(&kick_tag, ExclusiveLock, false, false);
	if (worker_lock_held(dboid))
	{
		LockRelease(&kick_tag, ExclusiveLock, false);
		return KICK_RUNNING;
	}
	if (!rs_purge_worker_register(dboid, false, &handle))
	{
		LockRelease(&kick_tag, ExclusiveLock, false);
		return KICK_NO_SLOT;
	}

	/* the worker connects and takes its lock within milliseconds */
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), 10000);
	for (;;)
	{
		pid_t		pid;
		BgwHandleStatus status = GetBackgroundWorkerPid(handle, &pid);

		if (status == BGWH_STOPPED || status == BGWH_POSTMASTER_DIED)
			break;
		if (status == BGWH_STARTED && worker_lock_held(dboid))
			break;
		if (GetCurrentTimestamp() >= deadline)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 10, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	pfree(handle);
	LockRelease(&kick_tag, ExclusiveLock, false);
	return KICK_STARTED;
}

/*
 * kick: wake or start this database's purge worker.  Returns a sentence
 * saying which, or NULL when no worker could be started.
 */
static char *
kick(void)
{
	char	   *db = get_database_name(MyDatabaseId);

	if (rs_preloaded && rs_shmem_wake(MyDatabaseId))
		return psprintf("Woke the purge worker of database \"%s\".", db);
	switch (start_worker_once(MyDatabaseId))
	{
		case KICK_RUNNING:
			return psprintf("The purge worker of database \"%s\" is already running.", db);
		case KICK_STARTED:
			return psprintf("Started a purge worker for database \"%s\".", db);
		case KICK_NO_SLOT:
			break;
	}
	return NULL;
}

/*
 * reset_purge_kick(): start (or wake) the purge worker now.
 */
Datum
reset_purge_kick(PG_FUNCTION_ARGS)
{
	char	   *done = kick();

	if (done == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not start the purge worker: no free background worker slot"),
				 errhint("Raise max_worker_processes (a server restart is needed), or try again when other background workers have finished.")));
	PG_RETURN_TEXT_P(cstring_to_text(done));
}

/*
 * reset_purge_retry(): queue every failed object again.
 */
Datum
reset_purge_retry(PG_FUNCTION_ARGS)
{
	RsSession	s;
	int64		n;

	rs_guard_writable("retry purges");
	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	rs_spi("WITH requeued AS ("
		   "  UPDATE reset_system.purge_queue SET state = 'pending', attempts = 0,"
		   "    next_attempt_at = pg_catalog.now(), last_error = NULL, outcome = NULL, done_at = NULL"
		   "  WHERE state OPERATOR(pg_catalog.=) 'failed' RETURNING reset_id),"
		   " reopened AS ("
		   "  UPDATE reset_system.history SET purged = NULL, purge_failed = NULL, purge_finished_at = NULL"
		   "  WHERE id IN (SELECT reset_id FROM requeued))"
		   " SELECT pg_catalog.count(*) FROM requeued",
		   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	n = rs_spi_int64(0, 0, 0);
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);
	if (n > 0)
		rs_commit_hook_mark_wake();
	PG_RETURN_INT64(n);
}

/*
 * reset_purge_wait(timeout interval DEFAULT '5 minutes'): wait for the
 * purge of the latest reset of this database.  It polls ten times a
 * second, possibly for hours: each poll works in a memory context that is
 * reset before the next one, and frees its SPI tuple tables (they live in
 * the SPI procedure context until SPI_finish otherwise), so a long wait
 * does not grow the backend.
 */
Datum
reset_purge_wait(PG_FUNCTION_ARGS)
{
	Interval   *timeout = PG_ARGISNULL(0) ? NULL : PG_GETARG_INTERVAL_P(0);
	TimestampTz deadline;
	RsSession	s;
	int64		reset_id;
	char	   *result = NULL;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	MemoryContext poll_cxt;
	MemoryContext outer_cxt;

	if (timeout == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("argument \"timeout\" of reset_purge_wait() must not be NULL")));
	if (rs_commit_hook_reset_pending())
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the reset in this transaction is not committed yet"),
				 errdetail("The purge starts when the reset commits; waiting here would wait forever."),
				 errhint("COMMIT, then call reset_purge_wait().")));
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("reset_purge_wait() requires READ COMMITTED isolation"),
				 errdetail("Under REPEATABLE READ or SERIALIZABLE it could not see the worker's progress.")));

	deadline = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(GetCurrentTimestamp()),
													   IntervalPGetDatum(timeout)));
	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	rs_spi("SELECT pg_catalog.max(id) FROM reset_system.history", 0, NULL, NULL, NULL,
		   false, SPI_OK_SELECT);
	if (rs_spi_isnull(0, 0))
		result = "No reset has been recorded in this database; there is no purge to wait for.";
	reset_id = rs_spi_int64(0, 0, 0);
	values[0] = Int64GetDatum(reset_id);
	SPI_freetuptable(SPI_tuptable);
	rs_as_owner_end(&s);

	if (result == NULL)
		(void) kick();

	outer_cxt = CurrentMemoryContext;
	poll_cxt = AllocSetContextCreate(outer_cxt, "reset_purge_wait poll",
									 ALLOCSET_DEFAULT_SIZES);
	while (result == NULL)
	{
		RsPurgeTotals t;
		char	   *last_error;
		char	   *failures;

		MemoryContextReset(poll_cxt);
		MemoryContextSwitchTo(poll_cxt);

		/*
		 * A cheap look first: is anything of this reset still pending?  From
		 * the end backwards, past no index entry of the rows already done.
		 */
		rs_as_owner_begin(&s);
		rs_spi("SELECT 1 FROM reset_system.purge_queue"
			   " WHERE state OPERATOR(pg_catalog.=) 'pending'"
			   "   AND reset_id OPERATOR(pg_catalog.=) $1"
			   " ORDER BY id DESC LIMIT 1",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);
		rs_as_owner_end(&s);
		SPI_freetuptable(SPI_tuptable);
		if (SPI_processed > 0 && GetCurrentTimestamp() < deadline)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 100, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			continue;
		}

		rs_as_owner_begin(&s);
		rs_spi("SELECT" RS_PURGE_TOTALS_SELECT ","
			   " (SELECT e.last_error FROM reset_system.purge_queue e"
			   "   WHERE e.reset_id OPERATOR(pg_catalog.=) $1 AND e.last_error IS NOT NULL"
			   "   ORDER BY COALESCE(e.done_at, e.next_attempt_at) DESC LIMIT 1)"
			   " FROM reset_system.purge_queue WHERE reset_id OPERATOR(pg_catalog.=) $1",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);
		rs_as_owner_end(&s);
		rs_purge_totals_read(0, 0, &t);
		last_error = rs_spi_text(0, RS_PURGE_TOTALS_NCOLS);
		failures = rs_purge_totals_failures(&t);

		if (rs_purge_totals_finished(&t) && failures == NULL)
			result = t.uploaded == 0 ? psprintf("Purged %s storage object(s).", rs_format_count(t.purged))
				: psprintf("Purged %s storage object(s). Uploaded %s resource file(s).",
						   rs_format_count(t.purged), rs_format_count(t.uploaded));
		else if (rs_purge_totals_finished(&t))
			ereport(ERROR,
					(errcode(ERRCODE_RS_PURGE_FAILED),
					 errmsg("purge of reset " INT64_FORMAT " finished with %s",
							reset_id, failures),
					 errdetail("%s storage object(s) were purged. Latest error: %s",
							   rs_format_count(t.purged), last_error ? last_error : "none recorded"),
					 errhint("See SELECT * FROM reset_purge_status(" INT64_FORMAT "); fix the cause, then SELECT reset_purge_retry();",
							 reset_id)));
		else
			ereport(ERROR,
					(errcode(ERRCODE_RS_PURGE_TIMEOUT),
					 errmsg("purge of reset " INT64_FORMAT " is not finished after %s",
							reset_id, DatumGetCString(DirectFunctionCall1(interval_out, IntervalPGetDatum(timeout)))),
					 errdetail(INT64_FORMAT " object(s) pending, " INT64_FORMAT " failed, " INT64_FORMAT " purged so far%s%s. Latest error: %s",
							   t.pending, t.failed, t.purged,
							   t.prefixes_pending > 0
							   ? psprintf("; " INT64_FORMAT " prefix(es) still to be listed or tidied up", t.prefixes_pending) : "",
							   t.uploads_pending > 0
							   ? psprintf("; " INT64_FORMAT " resource file(s) still to upload", t.uploads_pending) : "",
							   last_error ? last_error : "none recorded"),
					 errhint("The purge goes on in the background. Watch it with SELECT * FROM reset_purge_status(" INT64_FORMAT ");",
							 reset_id)));
	}
	MemoryContextSwitchTo(outer_cxt);
	/* a damaged journal file moved aside: the operator should know */
	{
		char	   *note = rs_journal_damaged_note();

		if (note != NULL)
			result = psprintf("%s %s", result, note);
	}
	result = rs_copy_out(result);
	MemoryContextDelete(poll_cxt);
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
