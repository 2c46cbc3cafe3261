/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  The purge launcher (only with shared_preload_libraries).
 *
 * Started with the server, connected to no database.  When a reset
 * commits in a database without a running worker, the committing backend
 * sets a flag in shared memory and the launcher's latch; the launcher
 * starts that database's worker.  Every reset_system.purge_naptime it also
 * starts a worker for every database that has none, which finds and
 * drains work left pending by a crash, a restart or a failed start, and
 * exits at once where there is nothing to do.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "purge.h"
#include "shmem.h"
#include "worker.h"

/*
 * all_databases: every database that accepts connections and is not a
 * template, read from the shared catalog pg_database.
 */
static List *
all_databases(MemoryContext cxt)
{
	List	   *result = NIL;
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;

	StartTransactionCommand();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		MemoryContext old;

		/* datconnlimit -2 marks a database left invalid by an interrupted DROP */
		if (!db->datallowconn || db->datistemplate || db->datconnlimit == -2)
			continue;
		old = MemoryContextSwitchTo(cxt);
		result = lappend_oid(result, db->oid);
		MemoryContextSwitchTo(old);
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return result;
}

/*
 * launcher_exit: forget the launcher's latch.
 */
static void
launcher_exit(int code, Datum arg)
{
	rs_shmem_launcher_detach();
}

/*
 * rs_launcher_main: entry point of the launcher.  Each round works in
 * its own memory context, reset before the next round, so a launcher
 * that runs for months does not grow.
 */
void
rs_launcher_main(Datum arg)
{
	MemoryContext cxt;
	TimestampTz last_full = 0;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	rs_shmem_launcher_attach();
	before_shmem_exit(launcher_exit, (Datum) 0);
	cxt = AllocSetContextCreate(TopMemoryContext, "reset_system launcher",
								ALLOCSET_DEFAULT_SIZES);

	for (;;)
	{
		TimestampTz now = GetCurrentTimestamp();
		bool		full;
		List	   *dbs;
		ListCell   *lc;
		long		secs;
		int			usecs;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		MemoryContextReset(cxt);
		full = last_full == 0 ||
			TimestampDifferenceExceeds(last_full, now, rs_purge_naptime_s * 1000);
		if (full)
		{
			dbs = all_databases(cxt);
			last_full = now;
		}
		else
		{
			MemoryContext old = MemoryContextSwitchTo(cxt);

			dbs = rs_shmem_wake_requests();
			MemoryContextSwitchTo(old);
		}

		/* whatever the starts allocate goes with the reset of cxt */
		MemoryContextSwitchTo(cxt);
		foreach(lc, dbs)
		{
			Oid			dboid = lfirst_oid(lc);

			if (rs_shmem_needs_worker(dboid, full) &&
				!rs_purge_worker_start(dboid, false))
			{
				rs_shmem_start_failed(dboid);
				ereport(LOG,
						(errmsg("reset_system: could not start a purge worker for database %u: no free background worker slot", dboid),
						 errhint("Raise max_worker_processes; the launcher tries again in reset_system.purge_naptime.")));
			}
		}

		MemoryContextSwitchTo(TopMemoryContext);

		TimestampDifference(GetCurrentTimestamp(),
							TimestampTzPlusMilliseconds(last_full, rs_purge_naptime_s * 1000L),
							&secs, &usecs);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Max(secs * 1000L + usecs / 1000, 10), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
