/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The purge worker: one background process per database that drains
 *	  reset_system.purge_queue after resets commit.
 *
 * It is started on demand: by the commit of a reset (directly when the
 * library is not preloaded, through the launcher when it is), by
 * reset_purge_kick(), and by the launcher's periodic check.  A
 * session-level advisory lock keeps it to one per database.  It works in
 * rounds (purge.c): copy the attempt journal into reset_system.attempts,
 * deliver webhook messages, purge a batch of objects.  It sleeps until the
 * next retry is due while anything is pending, and exits when nothing is.
 *
 * SIGTERM ends it at the next interruption point (the round's transaction
 * rolls back, its rows stay pending); SIGHUP rereads the settings.  Its
 * memory is reset after every round, so it stays flat however many
 * objects it purges.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "journal.h"
#include "purge.h"
#include "reset_system.h"
#include "shmem.h"
#include "worker.h"

/* The advisory lock that makes a worker the only one of its database. */
#define RS_LOCK_KEY1 0x52535953	/* "RSYS" */
#define RS_LOCK_KEY2 1

/*
 * rs_purge_worker_start: register a dynamic purge worker for dboid,
 * without waiting for it.  Safe in a COMMIT callback (no error, no wait);
 * at commit a failure is only a WARNING: the queue keeps the work.
 */
bool
rs_purge_worker_start(Oid dboid, bool at_commit)
{
	return rs_purge_worker_register(dboid, at_commit, NULL);
}

/*
 * rs_purge_worker_register: the same, and with handle not NULL, the
 * caller gets a handle to follow the worker's start and exit.
 */
bool
rs_purge_worker_register(Oid dboid, bool at_commit, BackgroundWorkerHandle **handle)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "reset_system");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "rs_purge_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "reset_system purge worker for database %u", dboid);
	snprintf(w.bgw_type, BGW_MAXLEN, RS_WORKER_TYPE);
	w.bgw_main_arg = ObjectIdGetDatum(dboid);
	w.bgw_notify_pid = handle ? MyProcPid : 0;

	if (RegisterDynamicBackgroundWorker(&w, handle))
		return true;
	if (at_commit)
		ereport(WARNING,
				(errmsg("could not start the reset_system purge worker: no free background worker slot"),
				 errdetail("The storage purge is queued and nothing is lost."),
				 errhint("Raise max_worker_processes, or run SELECT reset_purge_kick(); later.")));
	return false;
}

/*
 * advisory: take (or release) the worker's advisory lock, in a
 * transaction of its own.  Returns whether it is held afterwards.
 */
static bool
advisory(bool take)
{
	bool		held;
	bool		isnull = true;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (take)
		SPI_execute("SELECT pg_catalog.pg_try_advisory_lock(1381194067, 1)", false, 0);
	else
		SPI_execute("SELECT NOT pg_catalog.pg_advisory_unlock(1381194067, 1)", false, 0);
	held = SPI_processed == 1 &&
		DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull)) &&
		!isnull;
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return held;
}

/*
 * queue_has_pending: is there any pending row (in a transaction of its own)?
 */
static bool
queue_has_pending(void)
{
	bool		pending = false;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (SPI_execute("SELECT 1 FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
					" ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
					" WHERE n.nspname OPERATOR(pg_catalog.=) 'reset_system'"
					"   AND c.relname OPERATOR(pg_catalog.=) 'purge_queue'", false, 0) == SPI_OK_SELECT &&
		SPI_processed == 1)
		pending = SPI_execute("SELECT 1 FROM reset_system.purge_queue"
							  " WHERE state OPERATOR(pg_catalog.=) 'pending'"
							  " UNION ALL SELECT 1 FROM reset_system.notifications"
							  " WHERE state OPERATOR(pg_catalog.=) 'pending' LIMIT 1",
							  false, 0) == SPI_OK_SELECT && SPI_processed == 1;
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return pending || rs_journal_pending(MyDatabaseId);
}

/*
 * worker_exit: on any exit, free the database's slot.
 */
static void
worker_exit(int code, Datum arg)
{
	(void) rs_shmem_worker_detach(DatumGetObjectId(arg), true, false);
}

/*
 * sleep_ms: wait for the latch, a timeout, or postmaster death.
 */
static void
sleep_ms(long ms)
{
	(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
					 Max(ms, 10), PG_WAIT_EXTENSION);
	ResetLatch(MyLatch);
}

/*
 * rs_purge_worker_main: entry point of the purge worker.
 */
void
rs_purge_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	MemoryContext round_cxt;
	RsPurgeRound r;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION);
	SetConfigOption("application_name", RS_WORKER_TYPE, PGC_USERSET, PGC_S_SESSION);

	/*
	 * Each statement of the worker handles one batch.  With a long queue the
	 * planner's estimates pass jit_above_cost, and compiling would load LLVM
	 * into this long-lived process: about 10 MB of private memory that is
	 * never given back, for no gain on a batch.
	 */
	SetConfigOption("jit", "off", PGC_USERSET, PGC_S_OVERRIDE);
	pgstat_report_appname(RS_WORKER_TYPE);

	if (!rs_shmem_worker_attach(dboid))
		proc_exit(0);			/* another worker serves this database */
	before_shmem_exit(worker_exit, ObjectIdGetDatum(dboid));
	if (!advisory(true))
		proc_exit(0);

	round_cxt = AllocSetContextCreate(TopMemoryContext, "reset_system purge round",
									  ALLOCSET_DEFAULT_SIZES);
	memset(&r, 0, sizeof(r));
	for (;;)
	{
		MemoryContext old;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(round_cxt);
		old = MemoryContextSwitchTo(round_cxt);
		rs_purge_round(&r);
		MemoryContextSwitchTo(old);

		if (r.stop)
		{
			(void) rs_shmem_worker_detach(dboid, true, r.no_extension);
			break;
		}
		if (r.claimed > 0 && r.backoff_ms > 0)
		{
			pgstat_report_activity(STATE_IDLE, "storage asked to retry: backing off");
			sleep_ms((long) r.backoff_ms);
			continue;
		}
		if (r.claimed > 0)
			continue;
		if (r.paused)
		{
			/* the storage purge is paused; journal and webhook still run */
			pgstat_report_activity(STATE_IDLE, "paused (reset_system.purge_paused)");
			sleep_ms(rs_purge_naptime_s * 1000L);
			continue;
		}
		if (r.pending == 0 && !rs_journal_pending(dboid))
		{
			/*
			 * Nothing left: release the lock first, so that a worker started
			 * for work committed from now on can take it, then look once
			 * more for work committed meanwhile.
			 */
			(void) advisory(false);
			if (!rs_shmem_worker_detach(dboid, false, false) ||
				(!rs_preloaded && queue_has_pending()))
			{
				if (advisory(true))
					continue;
			}
			break;
		}
		else
		{
			long		secs;
			int			usecs;

			TimestampDifference(GetCurrentTimestamp(), r.next_due, &secs, &usecs);
			pgstat_report_activity(STATE_IDLE, "waiting for the next retry");
			sleep_ms(Min(secs * 1000L + usecs / 1000, rs_purge_naptime_s * 1000L));
		}
	}
	proc_exit(0);
}

/*
 * rs_launcher_register: the launcher, a static worker started with the
 * server (preloaded only).  It makes sure every database with pending
 * purges is drained, which is how work left by a crash or restart resumes.
 */
void
rs_launcher_register(void)
{
	BackgroundWorker w;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 10;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "reset_system");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "rs_launcher_main");
	snprintf(w.bgw_name, BGW_MAXLEN, RS_LAUNCHER_TYPE);
	snprintf(w.bgw_type, BGW_MAXLEN, RS_LAUNCHER_TYPE);
	RegisterBackgroundWorker(&w);
}
