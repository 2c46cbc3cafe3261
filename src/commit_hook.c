/*-------------------------------------------------------------------------
 *
 * commit_hook.c
 *	  Wake the purge worker when a transaction that ran reset_execute
 *	  commits; refuse to PREPARE such a transaction.
 *
 * A reset attempt journaled outside the transaction (see journal.c) also
 * wakes the worker when the transaction aborts, so that the refusal shows
 * up in reset_system.attempts within moments.
 *
 * The purge queue is an ordinary table written inside the reset's
 * transaction, so a ROLLBACK (or ROLLBACK TO SAVEPOINT) removes the queued
 * rows by itself.  All this module keeps is a flag: "wake the worker at
 * commit".  A spurious wake is harmless; a missed one is repaired by the
 * launcher's periodic check (preloaded) or the next kick.
 *
 * By the time XACT_EVENT_COMMIT fires the commit is durable: the callback
 * must not error, block, allocate or touch the catalogs.  It only sets a
 * latch (preloaded) or registers a dynamic background worker without
 * waiting for it.
 *
 * A prepared transaction may be committed by another session, or never;
 * nothing would wake the worker then, so PREPARE TRANSACTION is refused
 * in a transaction that ran a reset, as postgres_fdw does for its own
 * reasons.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"

#include "commit_hook.h"
#include "shmem.h"
#include "worker.h"

/* A reset ran in this transaction (in the subtransaction below, or a child). */
static bool reset_marked = false;
static SubTransactionId reset_subid = InvalidSubTransactionId;

/* An attempt was journaled: wake the worker at commit or abort, to copy it. */
static bool journal_marked = false;

/* Something asked for a wake at commit (e.g. reset_purge_retry). */
static bool wake_marked = false;
static SubTransactionId wake_subid = InvalidSubTransactionId;

/*
 * wake_worker: at commit, wake or start the purge worker of this database.
 */
static void
wake_worker(void)
{
	if (rs_preloaded && rs_shmem_wake(MyDatabaseId))
		return;
	rs_purge_worker_start(MyDatabaseId, true);
}

/*
 * rs_xact_callback: the transaction-level events.
 */
static void
rs_xact_callback(XactEvent event, void *arg)
{
	bool		wake;

	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (reset_marked)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that ran reset_execute"),
						 errdetail("The storage purge of a reset starts when its transaction commits in this session."),
						 errhint("COMMIT the reset directly instead of using two-phase commit.")));
			break;

		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			wake = reset_marked || wake_marked || journal_marked;
			reset_marked = wake_marked = journal_marked = false;
			if (wake)
				wake_worker();
			break;

		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			wake = journal_marked && !in_error_recursion_trouble();
			reset_marked = wake_marked = journal_marked = false;
			if (wake)
				wake_worker();
			break;

		case XACT_EVENT_PREPARE:
			reset_marked = wake_marked = journal_marked = false;
			break;

		default:
			break;
	}
}

/*
 * rs_subxact_callback: a subtransaction that ran the reset may be rolled
 * back (the queue rows go with it) or committed into its parent.
 */
static void
rs_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
					SubTransactionId parentSubid, void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		if (reset_marked && reset_subid >= mySubid)
			reset_marked = false;
		if (wake_marked && wake_subid >= mySubid)
			wake_marked = false;
	}
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		if (reset_marked && reset_subid == mySubid)
			reset_subid = parentSubid;
		if (wake_marked && wake_subid == mySubid)
			wake_subid = parentSubid;
	}
}

/*
 * rs_commit_hook_register: install the callbacks, once per process
 * (from _PG_init, which runs once per process).
 */
void
rs_commit_hook_register(void)
{
	RegisterXactCallback(rs_xact_callback, NULL);
	RegisterSubXactCallback(rs_subxact_callback, NULL);
}

/*
 * rs_commit_hook_mark_reset: this transaction ran reset_execute.
 */
void
rs_commit_hook_mark_reset(void)
{
	if (!reset_marked || reset_subid > GetCurrentSubTransactionId())
		reset_subid = GetCurrentSubTransactionId();
	reset_marked = true;
}

/*
 * rs_commit_hook_mark_wake: wake the worker when this transaction commits.
 */
void
rs_commit_hook_mark_wake(void)
{
	if (!wake_marked || wake_subid > GetCurrentSubTransactionId())
		wake_subid = GetCurrentSubTransactionId();
	wake_marked = true;
}

/*
 * rs_commit_hook_mark_journal: an attempt was journaled; the worker copies
 * it into reset_system.attempts once this transaction ends, either way.
 */
void
rs_commit_hook_mark_journal(void)
{
	journal_marked = true;
}

/*
 * rs_commit_hook_reset_pending: did this transaction run a reset that is
 * not committed yet?
 */
bool
rs_commit_hook_reset_pending(void)
{
	return reset_marked;
}
