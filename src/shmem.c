/*-------------------------------------------------------------------------
 *
 * shmem.c
 *	  Shared state of the purge launcher and workers, when the library is
 *	  in shared_preload_libraries.
 *
 * One slot per database that has (or recently had) a purge worker: its
 * pid and latch, so a committing reset can wake it directly, and a "wake"
 * flag the launcher acts on when no worker runs.  Shared memory is an
 * optimisation only: without preloading, a committing reset starts a
 * dynamic worker itself and an advisory lock keeps it to one per
 * database.
 *
 * Everything here may be called from a COMMIT callback, so it only takes
 * a spinlock, never errors and never allocates.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "shmem.h"

#define RS_MAX_DB_SLOTS 64

typedef struct RsDbSlot
{
	Oid			dboid;			/* InvalidOid: free */
	pid_t		worker_pid;		/* 0: none; -1: being started */
	Latch	   *worker_latch;
	bool		wake;			/* work was committed for this database */
	TimestampTz started_at;		/* when the launcher asked for a worker */
} RsDbSlot;

typedef struct RsShared
{
	slock_t		mutex;
	pid_t		launcher_pid;
	Latch	   *launcher_latch;
	RsDbSlot	slots[RS_MAX_DB_SLOTS];
} RsShared;

static RsShared *rs_shared = NULL;
bool		rs_preloaded = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/*
 * rs_shmem_request: ask for our shared memory (in shmem_request_hook, as
 * PostgreSQL requires since 15).
 */
static void
rs_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(RsShared)));
}

/*
 * rs_shmem_startup: create or attach to the shared state.
 */
static void
rs_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	rs_shared = ShmemInitStruct("reset_system", sizeof(RsShared), &found);
	if (!found)
	{
		memset(rs_shared, 0, sizeof(RsShared));
		SpinLockInit(&rs_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * rs_shmem_init: called from _PG_init while shared_preload_libraries is
 * being processed.
 */
void
rs_shmem_init(void)
{
	rs_preloaded = true;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = rs_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rs_shmem_startup;
}

/*
 * find_slot: the slot of dboid, creating it when create is set.  Caller
 * holds the mutex.  NULL when the table is full.
 */
static RsDbSlot *
find_slot(Oid dboid, bool create)
{
	RsDbSlot   *free_slot = NULL;

	for (int i = 0; i < RS_MAX_DB_SLOTS; i++)
	{
		RsDbSlot   *slot = &rs_shared->slots[i];

		if (slot->dboid == dboid)
			return slot;
		if (free_slot == NULL && slot->dboid == InvalidOid)
			free_slot = slot;
	}
	if (create && free_slot)
	{
		memset(free_slot, 0, sizeof(RsDbSlot));
		free_slot->dboid = dboid;
		return free_slot;
	}
	return NULL;
}

/*
 * rs_shmem_wake: work was committed for dboid: wake its worker, or the
 * launcher so it starts one.  Safe in a COMMIT callback.  Returns false
 * when there is no shared state (not preloaded).
 */
bool
rs_shmem_wake(Oid dboid)
{
	Latch	   *latch = NULL;
	RsDbSlot   *slot;

	if (rs_shared == NULL)
		return false;
	SpinLockAcquire(&rs_shared->mutex);
	slot = find_slot(dboid, true);
	if (slot)
	{
		slot->wake = true;
		if (slot->worker_pid > 0)
			latch = slot->worker_latch;
	}
	if (latch == NULL)
		latch = rs_shared->launcher_latch;
	SpinLockRelease(&rs_shared->mutex);
	if (latch)
		SetLatch(latch);
	return true;
}

/*
 * rs_shmem_launcher_attach: the launcher announces itself.
 */
void
rs_shmem_launcher_attach(void)
{
	SpinLockAcquire(&rs_shared->mutex);
	rs_shared->launcher_pid = MyProcPid;
	rs_shared->launcher_latch = MyLatch;
	SpinLockRelease(&rs_shared->mutex);
}

/*
 * rs_shmem_launcher_detach: the launcher is exiting.
 */
void
rs_shmem_launcher_detach(void)
{
	SpinLockAcquire(&rs_shared->mutex);
	rs_shared->launcher_pid = 0;
	rs_shared->launcher_latch = NULL;
	SpinLockRelease(&rs_shared->mutex);
}

/*
 * rs_shmem_needs_worker: should the launcher start a worker for dboid?
 * When "all" is false, only databases with committed work qualify.  A
 * worker asked for more than 60 s ago that never attached is considered
 * failed (database dropped, no free worker slot).  Marks the slot as
 * being started when the answer is yes.
 */
bool
rs_shmem_needs_worker(Oid dboid, bool all)
{
	RsDbSlot   *slot;
	bool		result = false;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&rs_shared->mutex);
	slot = find_slot(dboid, all);
	if (slot == NULL)
		result = all;			/* table full: start it untracked */
	else
	{
		if (slot->worker_pid == -1 &&
			TimestampDifferenceExceeds(slot->started_at, now, 60 * 1000))
			slot->worker_pid = 0;
		if (slot->worker_pid == 0 && (all || slot->wake))
		{
			slot->worker_pid = -1;
			slot->started_at = now;
			result = true;
		}
	}
	SpinLockRelease(&rs_shared->mutex);
	return result;
}

/*
 * rs_shmem_start_failed: the launcher could not start the worker.
 */
void
rs_shmem_start_failed(Oid dboid)
{
	RsDbSlot   *slot;

	SpinLockAcquire(&rs_shared->mutex);
	slot = find_slot(dboid, false);
	if (slot && slot->worker_pid == -1)
		slot->worker_pid = 0;
	SpinLockRelease(&rs_shared->mutex);
}

/*
 * rs_shmem_wake_requests: databases with committed work and no worker.
 */
List *
rs_shmem_wake_requests(void)
{
	Oid			oids[RS_MAX_DB_SLOTS];
	int			n = 0;
	List	   *result = NIL;

	SpinLockAcquire(&rs_shared->mutex);
	for (int i = 0; i < RS_MAX_DB_SLOTS; i++)
	{
		RsDbSlot   *slot = &rs_shared->slots[i];

		if (slot->dboid != InvalidOid && slot->wake && slot->worker_pid == 0)
			oids[n++] = slot->dboid;
	}
	SpinLockRelease(&rs_shared->mutex);
	for (int i = 0; i < n; i++)
		result = lappend_oid(result, oids[i]);
	return result;
}

/*
 * rs_shmem_worker_attach: a worker announces itself for its database.
 * Returns false when another worker already serves it.
 */
bool
rs_shmem_worker_attach(Oid dboid)
{
	RsDbSlot   *slot;
	bool		ok = false;

	if (rs_shared == NULL)
		return true;
	SpinLockAcquire(&rs_shared->mutex);
	slot = find_slot(dboid, true);
	if (slot && (slot->worker_pid <= 0 || slot->worker_pid == MyProcPid))
	{
		slot->worker_pid = MyProcPid;
		slot->worker_latch = MyLatch;
		slot->wake = false;
		ok = true;
	}
	else if (slot == NULL)
		ok = true;				/* table full: work without a slot */
	SpinLockRelease(&rs_shared->mutex);
	return ok;
}

/*
 * rs_shmem_worker_detach: a worker is about to exit.  Returns false (and
 * stays attached) when work was committed since it last looked, so it
 * goes on instead.  With force, it detaches whatever happened.  With
 * forget (the extension is not installed there), the slot is freed.
 */
bool
rs_shmem_worker_detach(Oid dboid, bool force, bool forget)
{
	RsDbSlot   *slot;
	bool		detached = true;
	Latch	   *launcher = NULL;

	if (rs_shared == NULL)
		return true;
	SpinLockAcquire(&rs_shared->mutex);
	slot = find_slot(dboid, false);
	if (slot && slot->worker_pid == MyProcPid)
	{
		if (slot->wake && !force)
		{
			slot->wake = false;
			detached = false;
		}
		else
		{
			slot->worker_pid = 0;
			slot->worker_latch = NULL;
			if (slot->wake)
				launcher = rs_shared->launcher_latch;
			else if (forget)
				slot->dboid = InvalidOid;
		}
	}
	SpinLockRelease(&rs_shared->mutex);
	if (launcher)
		SetLatch(launcher);
	return detached;
}

/*
 * rs_shmem_worker_pid: the pid of the worker serving dboid, 0 if none.
 */
pid_t
rs_shmem_worker_pid(Oid dboid)
{
	RsDbSlot   *slot;
	pid_t		pid = 0;

	if (rs_shared == NULL)
		return 0;
	SpinLockAcquire(&rs_shared->mutex);
	slot = find_slot(dboid, false);
	if (slot && slot->worker_pid > 0)
		pid = slot->worker_pid;
	SpinLockRelease(&rs_shared->mutex);
	return pid;
}
