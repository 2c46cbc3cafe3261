/*-------------------------------------------------------------------------
 *
 * locks.c
 *	  Take the reset's table locks up front, with a bounded wait.
 *
 * A reset needs ACCESS EXCLUSIVE locks on every table it empties (and the
 * sequences it restarts).  An idle-in-transaction session holding any lock
 * on one of them would make a plain TRUNCATE wait forever, so the locks
 * are taken first, in OID order (two resets never deadlock each other),
 * within reset_system.lock_timeout in total.  When the time runs out the
 * error names the sessions that hold the lock, so the operator knows whom
 * to stop; with reset_system.terminate_blockers (a superuser setting, for
 * staging servers where the application is still running) those sessions
 * are terminated instead, named in the result, and the wait repeated once.
 *
 * The wait uses the server's own lock_timeout inside an internal
 * subtransaction, the way PL/pgSQL exception blocks work: the timeout
 * error is caught, the subtransaction rolled back, and a clearer error
 * raised in its place.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/array.h"
#include "utils/timestamp.h"

#include "internal.h"
#include "locks.h"
#include "reset_system.h"

/* pg_terminate_backend(pid, timeout) waits for the session to go */
#define RS_TERMINATE_SQL "SELECT pg_catalog.pg_terminate_backend($1, 5000)"

static List *terminate_holders(List *relids);

static bool wait_for_locks(List *pending, LOCKMODE mode, int timeout_ms, bool report);

/*
 * describe_holders: one entry per session holding or awaiting a lock on
 * relid, for the error detail: a session holding several modes (a reset
 * running in another session holds three) is listed once, with each mode
 * it holds and awaits.  *pids gets each session's pid once.  Returns NULL
 * when nobody holds or awaits a lock any more.
 */
static char *
describe_holders(Oid relid, List **pids)
{
	Oid			argtypes[2] = {OIDOID, OIDOID};
	Datum		values[2];
	StringInfoData buf;
	int			n;

	values[0] = ObjectIdGetDatum(relid);
	values[1] = ObjectIdGetDatum(MyDatabaseId);
	n = rs_spi("SELECT l.pid, a.usename::pg_catalog.text, a.application_name, a.state,"
			   " pg_catalog.date_trunc('second', pg_catalog.clock_timestamp()"
			   "   OPERATOR(pg_catalog.-) a.xact_start)::pg_catalog.text,"
			   " pg_catalog.string_agg(l.mode, ', ' ORDER BY l.mode) FILTER (WHERE l.granted),"
			   " pg_catalog.string_agg(l.mode, ', ' ORDER BY l.mode) FILTER (WHERE NOT l.granted)"
			   " FROM pg_catalog.pg_locks l"
			   " LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid"
			   " WHERE l.locktype OPERATOR(pg_catalog.=) 'relation'"
			   "   AND l.relation OPERATOR(pg_catalog.=) $1"
			   "   AND l.database OPERATOR(pg_catalog.=) $2"
			   "   AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()"
			   " GROUP BY l.pid, l.virtualtransaction, a.usename, a.application_name,"
			   "   a.state, a.xact_start"
			   " ORDER BY pg_catalog.bool_or(l.granted) DESC, l.pid",
			   2, argtypes, values, NULL, false, SPI_OK_SELECT);
	if (n == 0)
		return NULL;

	initStringInfo(&buf);
	for (int i = 0; i < n; i++)
	{
		char	   *user = rs_spi_text(i, 1);
		char	   *app = rs_spi_text(i, 2);
		char	   *state = rs_spi_text(i, 3);
		char	   *age = rs_spi_text(i, 4);
		char	   *held = rs_spi_text(i, 5);
		char	   *awaited = rs_spi_text(i, 6);
		char	   *modes;

		if (held && awaited)
			modes = psprintf("holds %s and waits for %s", held, awaited);
		else if (held)
			modes = psprintf("holds %s", held);
		else
			modes = psprintf("waits for %s", awaited ? awaited : "a lock");

		if (i > 0)
			appendStringInfoString(&buf, "; ");
		if (rs_spi_isnull(i, 0))
		{
			appendStringInfo(&buf, "a prepared transaction (%s)", modes);
			continue;
		}
		*pids = lappend_int(*pids, (int) rs_spi_int64(i, 0, 0));
		appendStringInfo(&buf, "pid %s (user \"%s\", application \"%s\", %s%s%s, %s)",
						 rs_spi_text(i, 0),
						 user ? user : "?",
						 (app && app[0]) ? app : "-",
						 state ? state : "state not visible",
						 age ? ", transaction open for " : "", age ? age : "",
						 modes);
	}
	return buf.data;
}

/*
 * report_timeout: raise the lock-timeout error for relid.
 */
static void
report_timeout(Oid relid, int timeout_ms)
{
	List	   *pids = NIL;
	char	   *holders = describe_holders(relid, &pids);
	char	   *name = rs_qualified_name(relid, false);
	const char *kind = get_rel_relkind(relid) == RELKIND_SEQUENCE ? "sequence" : "table";
	StringInfoData hint;
	ListCell   *lc;

	initStringInfo(&hint);
	appendStringInfoString(&hint, "Nothing was changed. End the blocking transactions");
	foreach(lc, pids)
		appendStringInfo(&hint, "%s SELECT pg_terminate_backend(%d);",
						 lc == list_head(pids) ? " (for example" : "", lfirst_int(lc));
	if (pids)
		appendStringInfoChar(&hint, ')');
	appendStringInfoString(&hint, " or raise reset_system.lock_timeout, then run the reset again.");

	ereport(ERROR,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("could not lock %s \"%s\" within %d ms (reset_system.lock_timeout)",
					kind, name ? name : "?", timeout_ms),
			 holders ? errdetail("Blocked by %s.", holders)
			 : errdetail("The sessions that held the lock have ended in the meantime."),
			 errhint("%s", hint.data)));
}

/*
 * lock_with_deadline: wait for each lock in turn, with lock_timeout set to
 * what is left until the deadline.  *waiting_for names the relation being
 * waited on, for the error report.
 */
static void
lock_with_deadline(List *relids, LOCKMODE mode, TimestampTz deadline,
				   volatile Oid *waiting_for)
{
	ListCell   *lc;

	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);
		long		secs;
		int			usecs;
		int64		remaining_ms;
		int			nest;
		char		value[32];

		TimestampDifference(GetCurrentTimestamp(), deadline, &secs, &usecs);
		remaining_ms = Max((int64) secs * 1000 + usecs / 1000, 1);

		nest = NewGUCNestLevel();
		snprintf(value, sizeof(value), INT64_FORMAT, remaining_ms);
		(void) set_config_option("lock_timeout", value,
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		*waiting_for = relid;
		LockRelationOid(relid, mode);
		*waiting_for = InvalidOid;
		AtEOXact_GUC(true, nest);
	}
}

/*
 * rs_lock_relations: lock every relation of "relids" (sorted, unique) in
 * the given mode, waiting at most timeout_ms in total.
 */
List *
rs_lock_relations(List *relids, LOCKMODE mode, int timeout_ms)
{
	List	   *pending = NIL;
	List	   *terminated = NIL;
	ListCell   *lc;

	/* Fast path: locks nobody holds are granted without waiting. */
	foreach(lc, relids)
	{
		Oid			relid = lfirst_oid(lc);

		if (!ConditionalLockRelationOid(relid, mode))
			pending = lappend_oid(pending, relid);
	}
	if (pending == NIL)
		return NIL;
	if (wait_for_locks(pending, mode, timeout_ms, !rs_terminate_blockers))
		return NIL;

	/*
	 * reset_system.terminate_blockers: end the sessions in the way, then
	 * wait once more (a session may take a moment to go away).
	 */
	terminated = terminate_holders(pending);
	(void) wait_for_locks(pending, mode, timeout_ms, true);
	return terminated;
}

/*
 * terminate_holders: terminate every other session holding or awaiting a
 * lock on one of relids; describe each for the report and the history.
 * pg_terminate_backend() checks that the caller may do it.
 */
static List *
terminate_holders(List *relids)
{
	Oid			argtypes[2] = {OIDARRAYOID, OIDOID};
	Datum		values[2];
	Datum	   *elems = palloc(sizeof(Datum) * list_length(relids));
	List	   *result = NIL;
	List	   *pids = NIL;
	ListCell   *lc;
	int			i = 0;
	int			n;

	foreach(lc, relids)
		elems[i++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(elems, i, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	values[1] = ObjectIdGetDatum(MyDatabaseId);
	n = rs_spi("SELECT l.pid, pg_catalog.format('pid %s (user \"%s\", application \"%s\", %s) that held %s on %s',"
			   "  l.pid, a.usename, COALESCE(NULLIF(a.application_name, ''), '-'),"
			   "  COALESCE(a.state, 'state not visible'),"
			   "  pg_catalog.string_agg(DISTINCT l.mode, ', '),"
			   "  pg_catalog.string_agg(DISTINCT l.relation::pg_catalog.regclass::pg_catalog.text, ', '))"
			   " FROM pg_catalog.pg_locks l"
			   " LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid"
			   " WHERE l.locktype OPERATOR(pg_catalog.=) 'relation'"
			   "   AND l.relation OPERATOR(pg_catalog.=) ANY ($1)"
			   "   AND l.database OPERATOR(pg_catalog.=) $2"
			   "   AND l.pid IS NOT NULL"
			   "   AND l.pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid()"
			   " GROUP BY l.pid, a.usename, a.application_name, a.state ORDER BY l.pid",
			   2, argtypes, values, NULL, false, SPI_OK_SELECT);
	for (i = 0; i < n; i++)
	{
		pids = lappend_int(pids, (int) rs_spi_int64(i, 0, 0));
		result = lappend(result, rs_spi_text(i, 1));
	}
	foreach(lc, pids)
	{
		Oid			t[1] = {INT4OID};
		Datum		v[1];

		v[0] = Int32GetDatum(lfirst_int(lc));
		rs_spi(RS_TERMINATE_SQL, 1, t, v, NULL, false, SPI_OK_SELECT);
		ereport(LOG,
				(errmsg("reset_system: terminated session pid %d, which held a lock a reset needed",
						lfirst_int(lc))));
	}
	return result;
}

/*
 * wait_for_locks: the slow path of rs_lock_relations, in a subtransaction
 * so that a lock timeout can be turned into a report of the blockers.
 * Returns false on a lock timeout when report is false; with report, a
 * timeout is an ERROR naming the blocking sessions.
 */
static bool
wait_for_locks(List *pending, LOCKMODE mode, int timeout_ms, bool report)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	TimestampTz deadline;
	volatile Oid waiting_for = InvalidOid;
	volatile bool ok = true;

	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), timeout_ms);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);

	PG_TRY();
	{
		lock_with_deadline(pending, mode, deadline, &waiting_for);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		Oid			relid = waiting_for;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;

		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE && OidIsValid(relid))
		{
			if (report)
				report_timeout(relid, timeout_ms);
			ok = false;
		}
		else
			ReThrowError(edata);
	}
	PG_END_TRY();
	return ok;
}
