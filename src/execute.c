/*-------------------------------------------------------------------------
 *
 * execute.c
 *	  reset_execute(): delete and rebuild inside the caller's transaction.
 *
 * The order of things is the safety model:
 *
 *	1. the confirmation phrase, before anything else;
 *	2. a server and transaction that can write;
 *	3. the plan token, when given: the plan shown is the plan that runs;
 *	4. locks on every table (and owned sequence) to be emptied, with a
 *	   bounded wait that names the blocking sessions;
 *	5. the plan again, under the locks: any blocker refuses the reset;
 *	6. exact counts, the deletes, the rebuild steps, the history row.
 *
 * There is no COMMIT anywhere: the caller's COMMIT makes the reset happen,
 * ROLLBACK (or ROLLBACK TO SAVEPOINT, or any error) undoes all of it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lockdefs.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "commit_hook.h"
#include "guards.h"
#include "history.h"
#include "locks.h"
#include "plan.h"
#include "queue.h"
#include "rebuild.h"
#include "render.h"
#include "reset_system.h"
#include "strategy.h"

PG_FUNCTION_INFO_V1(reset_execute);

/* Set while a reset runs in this backend: rebuild steps may not recurse. */
static bool rs_reset_running = false;

/*
 * report_line: NOTICE a report line and append it to the result.
 */
static void
report_line(StringInfo report, const char *line)
{
	ereport(NOTICE, (errmsg_internal("%s", line)));
	appendStringInfo(report, "%s\n", line);
}

/*
 * check_token: the plan token given by the caller must be the plan's.
 */
static void
check_token(RsPlan *plan, const char *token)
{
	if (token == NULL || strcmp(token, plan->token) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_RS_PLAN_CHANGED),
			 errmsg("the plan changed since it was shown"),
			 errdetail("The plan token given is \"%s\"; the plan for database \"%s\" now has token \"%s\". "
					   "Tokens change when the configuration changes or the plan was made for another database or server. "
					   "Nothing was changed.",
					   token, plan->database, plan->token),
			 errhint("Read the current plan with SELECT reset_plan(); and run the statement on its last line.")));
}

/*
 * lock_targets: every table (and child) to be emptied, and their owned
 * sequences, sorted by OID so concurrent resets lock in the same order.
 */
static List *
lock_targets(RsPlan *plan)
{
	List	   *relids = list_copy(plan->effective_delete);

	relids = list_concat_unique_oid(relids, rs_strategy_sequences(plan));
	list_sort(relids, list_oid_cmp);
	list_deduplicate_oid(relids);
	return relids;
}

/*
 * do_reset: the body of reset_execute, between the guards and the result.
 */
static char *
do_reset(RsSession *s, const char *token)
{
	TimestampTz started = GetCurrentTimestamp();
	RsPlan	   *plan;
	StringInfoData report;
	ListCell   *lc;
	int64		history_id;
	int64		reset_id;
	int64		queued = 0;

	plan = rs_plan_load(s);
	check_token(plan, token);

	rs_lock_relations(lock_targets(plan), AccessExclusiveLock, rs_lock_timeout_ms);

	rs_plan_analyze(plan);
	rs_plan_raise_blockers(plan);
	rs_plan_count(plan);
	rs_strategy_decide(plan);

	reset_id = rs_history_reserve_id(s);
	if (plan->uses_storage)
		queued = rs_queue_capture(s, plan, reset_id);

	rs_strategy_run(plan);

	initStringInfo(&report);
	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		report_line(&report, psprintf("Deleted %s %s row(s).",
									  rs_format_count(t->rows), t->label));
	}

	rs_run_rebuilds(s, plan, &report);

	if (plan->uses_storage)
	{
		int64		spared = rs_queue_spare(s, plan, reset_id);

		queued -= spared;
		report_line(&report,
					psprintf("Queued %s storage object(s) for purge after commit%s.",
							 rs_format_count(queued),
							 spared > 0 ? psprintf(" (%s kept: still referenced by preserved or rebuilt rows)",
												   rs_format_count(spared)) : ""));
		if (plan->storage->prefixes)
			report_line(&report,
						psprintf("Queued %d prefix(es) for purge after commit.",
								 list_length(plan->storage->prefixes)));
	}
	rs_commit_hook_mark_reset();

	foreach(lc, plan->preserve_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		report_line(&report, psprintf("Preserved %s %s row(s).",
									  rs_format_count(t->rows), t->label));
	}

	history_id = rs_history_record(s, plan, reset_id, started, queued,
								   plan->uses_storage && plan->storage->prefixes != NIL);
	report_line(&report, psprintf("Recorded as reset " INT64_FORMAT " in reset_system.history.",
								  history_id));
	report_line(&report, "System reset complete.");

	/* no newline after the last line */
	report.data[--report.len] = '\0';
	return report.data;
}

/*
 * reset_execute(phrase text, plan_token text DEFAULT NULL) returns text
 */
Datum
reset_execute(PG_FUNCTION_ARGS)
{
	char	   *phrase = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *token = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	RsSession	s;
	char	   *out = NULL;

	rs_guard_phrase(phrase, RS_CONFIRM_PHRASE, "reset_execute");
	rs_guard_writable("reset a database");
	if (rs_mode == RS_MODE_DELETE && IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("reset_system.mode = 'delete' requires READ COMMITTED isolation"),
				 errdetail("Under REPEATABLE READ or SERIALIZABLE a DELETE cannot see rows committed after the transaction's snapshot, so it could leave rows behind."),
				 errhint("Run the reset in a READ COMMITTED transaction, or use reset_system.mode = 'truncate'.")));
	if (rs_reset_running)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("reset_execute cannot be called while a reset is running"),
				 errdetail("A rebuild step must not start another reset.")));

	rs_reset_running = true;
	PG_TRY();
	{
		rs_enter(&s);
		SPI_connect();
		out = rs_copy_out(do_reset(&s, token));
		SPI_finish();
		rs_leave(&s);
	}
	PG_FINALLY();
	{
		rs_reset_running = false;
	}
	PG_END_TRY();

	PG_RETURN_TEXT_P(cstring_to_text(out));
}
