/*-------------------------------------------------------------------------
 *
 * execute.c
 *	  reset_execute(): delete and rebuild inside the caller's transaction.
 *
 * The order of things is the safety model:
 *
 *	1. the confirmation phrase, before anything else;
 *	2. the server's kill switch (reset_system.allow_reset);
 *	3. a server and transaction that can write;
 *	4. the plan token, when given: the plan shown is the plan that runs;
 *	5. the environment: labelled, and unlocked when protected;
 *	6. locks on every table (and owned sequence) to be emptied, and on
 *	   the kept tables whose rows it changes, with a
 *	   bounded wait that names the blocking sessions (or terminates them,
 *	   with reset_system.terminate_blockers);
 *	7. the plan again, under the locks: the registrations and the
 *	   structure (partitions and children found meanwhile are locked too),
 *	   the token once more, and any blocker refuses the reset;
 *	8. exact counts and the size guard (reset_system.max_rows);
 *	9. the steps that run before the deletes, the kept rows that point
 *	   into emptied tables (set to NULL, or deleted for generic
 *	   references), the deletes, the rebuild steps, the purge queue, the
 *	   preserved tables counted again, the history row, NOTIFY and the
 *	   webhook message.
 *
 * The report repeats every warning of the plan and ends with "Reset done;
 * it takes effect when this transaction commits.": the reset happens when
 * the caller commits, and not at all if the caller rolls back.
 *
 * There is no COMMIT anywhere: the caller's COMMIT makes the reset happen,
 * ROLLBACK (or ROLLBACK TO SAVEPOINT, or any error) undoes all of it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lockdefs.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "backup.h"
#include "commit_hook.h"
#include "guards.h"
#include "environment.h"
#include "execute.h"
#include "history.h"
#include "journal.h"
#include "message.h"
#include "kept_run.h"
#include "locks.h"
#include "notify.h"
#include "plan.h"
#include "queue.h"
#include "rebuild.h"
#include "render.h"
#include "reset_system.h"
#include "strategy.h"

PG_FUNCTION_INFO_V1(reset_execute);

/* Set while a reset runs in this backend: rebuild steps may not recurse. */
static bool rs_reset_running = false;

/* The id of the reset under way, once reserved (reset_seed_object) */
static int64 rs_current_reset_id = 0;

/*
 * rs_execute_current_reset: the id of the reset running in this backend,
 * or 0 outside one.
 */
int64
rs_execute_current_reset(void)
{
	return rs_reset_running ? rs_current_reset_id : 0;
}

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
 * The new token is not printed: it would invite running a plan nobody
 * read.
 */
static void
check_token(RsPlan *plan, const char *token)
{
	if (token == NULL || strcmp(token, plan->token) == 0)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_RS_PLAN_CHANGED),
			 errmsg("the plan changed since it was shown"),
			 errdetail("The plan token given is %s; the plan of database \"%s\" is not that plan any more. "
					   "Its configuration changed, or the structure of its registered tables did (a table added to their schemas, "
					   "a partition or child attached, a storage column changed), or the plan was made for another database or server. "
					   "Nothing was changed.",
					   rs_message_value(token), plan->database),
			 errhint("Read the plan again with SELECT reset_plan(); and, if it is what you want, run the statement on its last line.")));
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
	relids = list_concat_unique_oid(relids, plan->kept_changed);
	list_sort(relids, list_oid_cmp);
	list_deduplicate_oid(relids);
	return relids;
}

/* Rounds of "lock, then read the structure again" before giving up */
#define RS_LOCK_ROUNDS 10

/*
 * lock_plan: take the locks of the plan, then resolve the plan again
 * under them; a partition or child attached (or a table registered) in
 * the meantime is locked in the next round.  Once everything the plan
 * empties is locked, nothing can be attached to it any more.  Returns the
 * sessions terminated on the way (reset_system.terminate_blockers).
 */
static List *
lock_plan(RsSession *s, RsPlan *plan)
{
	List	   *locked = NIL;
	List	   *terminated = NIL;

	for (int round = 0;; round++)
	{
		List	   *todo = list_difference_oid(lock_targets(plan), locked);

		if (todo == NIL)
			break;
		if (round >= RS_LOCK_ROUNDS)
			ereport(ERROR,
					(errcode(ERRCODE_RS_PLAN_CHANGED),
					 errmsg("the tables to reset kept changing while the reset took its locks"),
					 errdetail("Partitions, children or registrations were added %d times in a row. Nothing was changed.",
							   RS_LOCK_ROUNDS),
					 errhint("Run the reset again when the schema is not being changed.")));
		terminated = list_concat(terminated,
								 rs_lock_relations(todo, AccessExclusiveLock, rs_lock_timeout_ms));
		locked = list_concat(locked, todo);
		rs_plan_resolve(s, plan);
	}
	plan->under_locks = true;
	return terminated;
}

/*
 * hold_purge: reset_system.purge_delay.  The reset's queue rows wait (due
 * "infinity", with the delay in hold_for) until the worker first sees them
 * after the commit and makes them due the delay later: the purge never
 * starts less than the delay after the commit.
 */
static void
hold_purge(RsSession *s, int64 reset_id, StringInfo report)
{
	Oid			argtypes[2] = {INT8OID, INT4OID};
	Datum		values[2];
	int64		held;

	values[0] = Int64GetDatum(reset_id);
	values[1] = Int32GetDatum(rs_purge_delay_s);
	rs_as_owner_begin(s);
	held = rs_spi("UPDATE reset_system.purge_queue SET next_attempt_at = 'infinity',"
				  " hold_for = pg_catalog.make_interval(secs => $2)"
				  " WHERE reset_id OPERATOR(pg_catalog.=) $1",
				  2, argtypes, values, NULL, false, SPI_OK_UPDATE);
	rs_as_owner_end(s);
	if (held > 0)
		report_line(report, psprintf("The storage purge starts %s after commit (reset_system.purge_delay).",
									 rs_format_seconds(rs_purge_delay_s)));
}

/*
 * run_before_steps: the steps registered to run before the deletes, under
 * the locks; then the emptied tables are counted again, since a step may
 * have changed them (how each is emptied depends on its rows).
 */
static void
run_before_steps(RsSession *s, RsPlan *plan, StringInfo report)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->rebuilds)
		if (((RsRebuild *) lfirst(lc))->before)
			break;
	if (lc == NULL)
		return;
	rs_run_rebuilds(s, plan, report, true);
	rs_tree_count(plan->delete_tables, false);
	plan->delete_rows = 0;
	foreach(lc, plan->delete_tables)
		plan->delete_rows += ((RsTable *) lfirst(lc))->rows;
}

/*
 * do_reset: the body of reset_execute, after the first guards.  Fills
 * *reset_id and *rows for the attempt journal, as soon as they are known:
 * the caller reads them after an error too (so they point to volatile
 * variables: a longjmp may otherwise lose what was stored in them).
 */
static char *
do_reset(RsSession *s, const char *token, bool backup, volatile int64 *reset_id_out,
		 volatile int64 *rows_out)
{
	TimestampTz started = GetCurrentTimestamp();
	RsPlan	   *plan;
	StringInfoData report;
	ListCell   *lc;
	int64		reset_id;
	int64		queued = 0;
	int64		uploads = 0;
	List	   *terminated;
	int			sqlstate;
	char	   *message;
	char	   *detail;
	char	   *hint;
	RsResetRecord rec;

	plan = rs_plan_load(s, true);
	check_token(plan, token);
	if (rs_env_blocker(&plan->env, &sqlstate, &message, &detail, &hint))
		ereport(ERROR,
				(errcode(sqlstate), errmsg("%s", message),
				 errdetail("%s", detail), errhint("%s", hint)));

	terminated = lock_plan(s, plan);
	check_token(plan, token);

	rs_plan_analyze(plan);
	rs_plan_raise_blockers(plan);
	rs_plan_count(plan);
	if (rs_max_rows > 0 && plan->delete_rows > rs_max_rows)
		ereport(ERROR,
				(errcode(ERRCODE_RS_TOO_MANY_ROWS),
				 errmsg("the reset would delete %s row(s), more than reset_system.max_rows (%s)",
						rs_format_count(plan->delete_rows), rs_format_count(rs_max_rows)),
				 errdetail("reset_system.max_rows guards against resetting a bigger database than expected. Nothing was changed."),
				 errhint("To go ahead, raise the limit for this transaction: SET LOCAL reset_system.max_rows = " INT64_FORMAT
						 "; then run the reset again in the same transaction: SELECT reset_execute('%s'%s%s);",
						 plan->delete_rows, RS_CONFIRM_PHRASE, token ? ", " : "",
						 token ? quote_literal_cstr(token) : "")));
	rs_plan_warn_more(s, plan, backup, false);

	reset_id = rs_history_reserve_id(s);
	*reset_id_out = reset_id;
	rs_current_reset_id = reset_id;
	*rows_out = plan->delete_rows;
	initStringInfo(&report);
	foreach(lc, plan->warnings)
		report_line(&report, psprintf("Warning: %s.", (char *) lfirst(lc)));
	if (backup)
		rs_backup_take(s, plan, reset_id, rs_strategy_sequences(plan), &report);
	run_before_steps(s, plan, &report);
	rs_strategy_decide(plan);
	if (plan->uses_storage)
		queued = rs_queue_capture(s, plan, reset_id);
	queued += rs_kept_apply(s, plan, reset_id, &report);

	rs_kept_drop_constraints(plan);
	rs_strategy_run(plan);

	foreach(lc, terminated)
		report_line(&report, psprintf("Terminated session %s.", (char *) lfirst(lc)));
	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (t->members == NIL)
			report_line(&report, psprintf("Deleted %s %s row(s).",
										  rs_format_count(t->rows), t->label));
		else
			report_line(&report, psprintf("Deleted %s %s row(s), in %s and the %d partition(s) or child table(s) below it.",
										  rs_format_count(t->rows), t->label, t->qname,
										  list_length(t->members)));
	}

	rs_run_rebuilds(s, plan, &report, false);
	rs_kept_recreate_constraints(plan);

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
	if (plan->cfg->rebuilds != NIL)
	{
		uploads = rs_queue_uploads(s, reset_id);
		if (uploads > 0)
			report_line(&report,
						psprintf("Queued %s resource file(s) for upload after the purge.",
								 rs_format_count(uploads)));
	}
	rs_commit_hook_mark_reset();
	if (rs_purge_delay_s > 0)
		hold_purge(s, reset_id, &report);

	/* what is kept, counted after the deletes and the rebuild steps */
	rs_tree_recount(plan->preserve_tables);
	plan->preserve_rows = 0;
	foreach(lc, plan->preserve_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		plan->preserve_rows += t->rows;
		if (t->rows == t->rows_before)
			report_line(&report, psprintf("Preserved %s %s row(s).",
										  rs_format_count(t->rows), t->label));
		else
			report_line(&report, psprintf("Preserved %s %s row(s); there were %s before the reset "
										  "(the deletes or the rebuild steps changed them).",
										  rs_format_count(t->rows), t->label,
										  rs_format_count(t->rows_before)));
	}

	rs_env_consume(s, plan->env.unlock_id, reset_id);
	if (plan->env.unlock_id != 0)
		report_line(&report, psprintf("Used the unlock of environment %s; it is locked again.",
									  rs_message_value(plan->environment)));

	memset(&rec, 0, sizeof(rec));
	rec.id = reset_id;
	rec.started = started;
	rec.purge_objects = queued;
	rec.purge_prefixes = plan->uses_storage && plan->storage->prefixes != NIL;
	rec.uploads = uploads;
	rec.terminated = terminated;
	rec.unlock_id = plan->env.unlock_id;
	rs_history_record(s, plan, &rec);
	rs_notify_reset(s, plan, reset_id, queued);

	rs_backup_retain(s, &report);
	report_line(&report, psprintf("Recorded as reset " INT64_FORMAT " in reset_system.history.",
								  reset_id));
	report_line(&report, "Reset done; it takes effect when this transaction commits.");

	/* no newline after the last line */
	report.data[--report.len] = '\0';
	return report.data;
}

/*
 * reset_execute(phrase text, plan_token text DEFAULT NULL) returns text
 *
 * Every attempt, successful or not, is journaled outside the caller's
 * transaction: a refusal (a guard said no), a failure (an error while it
 * ran), or "executed" (whether the caller commits it is known later).
 */
Datum
reset_execute(PG_FUNCTION_ARGS)
{
	char	   *phrase = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	char	   *token = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	bool		backup = (PG_NARGS() < 3 || PG_ARGISNULL(2)) ? rs_backup_default : PG_GETARG_BOOL(2);
	MemoryContext oldcontext = CurrentMemoryContext;
	RsSession	s;
	/* set inside PG_TRY and read after it: volatile (see setjmp(3)) */
	char	   *volatile out = NULL;
	volatile int64 reset_id = 0;
	volatile int64 rows = -1;

	if (rs_reset_running)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("reset_execute cannot be called while a reset is running"),
				 errdetail("A rebuild step must not start another reset.")));

	rs_reset_running = true;
	PG_TRY();
	{
		rs_guard_phrase_hint(phrase, RS_CONFIRM_PHRASE,
							 token
							 ? psprintf("To go ahead, run: SELECT reset_execute('%s', %s); after reading the plan.",
										RS_CONFIRM_PHRASE, quote_literal_cstr(token))
							 : psprintf("To go ahead, run: SELECT reset_execute('%s'); after reading the plan.",
										RS_CONFIRM_PHRASE));
		rs_guard_enabled();
		rs_guard_writable("reset a database");
		if (rs_mode == RS_MODE_DELETE && IsolationUsesXactSnapshot())
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("reset_system.mode = 'delete' requires READ COMMITTED isolation"),
					 errdetail("Under REPEATABLE READ or SERIALIZABLE a DELETE cannot see rows committed after the transaction's snapshot, so it could leave rows behind."),
					 errhint("Run the reset in a READ COMMITTED transaction, or use reset_system.mode = 'truncate'.")));

		rs_enter(&s);
		SPI_connect();
		out = rs_copy_out(do_reset(&s, token, backup, &reset_id, &rows));
		SPI_finish();
		rs_leave(&s);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		rs_reset_running = false;
		rs_current_reset_id = 0;
		rs_journal_this_attempt(rs_guard_is_refusal(edata->sqlerrcode) ? "refused" : "failed",
				edata->message, edata->sqlerrcode, reset_id, rows);
		PG_RE_THROW();
	}
	PG_END_TRY();
	rs_reset_running = false;
	rs_current_reset_id = 0;

	rs_journal_this_attempt("executed", NULL, 0, reset_id, rows);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}
