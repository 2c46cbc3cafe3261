/*-------------------------------------------------------------------------
 *
 * rebuild.c
 *	  Run the registered steps in order: the rebuild steps after the
 *	  deletes, and the steps registered with phase 'before' after the
 *	  reset's locks and before the deletes.
 *
 * Each step is SQL run through SPI in the reset's transaction, as the
 * role that registered it and with the search_path it had then (like a
 * SECURITY DEFINER function with a SET clause): the caller's session
 * cannot change what a step does.  An error in a step propagates (with the
 * step named in the error context) and aborts the caller's transaction,
 * so every delete rolls back with it.
 *
 * Each statement of a step runs on its own, so that the report says what
 * the step did: 'Rebuild "welcome coupon": inserted 2 row(s).',
 * 'Rebuild "stale permissions": deleted 1,000 row(s).', or, for a SELECT
 * returning one integer, 'Rebuild "baseline validator": returned 7.'  A
 * step may delete or update as well as insert, so it is never reported as
 * having "recreated" anything.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/numeric.h"

#include "compat.h"
#include "message.h"
#include "rebuild.h"
#include "render.h"
#include "reset_system.h"

/*
 * rebuild_context: error context line naming the failing step.
 */
static void
rebuild_context(void *arg)
{
	RsRebuild  *r = (RsRebuild *) arg;

	errcontext("reset_system %s step %s", r->before ? "before" : "rebuild", rs_message_value(r->label));
}

/* What the statements of a step did: a verb and a count. */
typedef struct StepDid
{
	const char *verb;			/* "inserted", ..., or "returned" */
	int64		n;
} StepDid;

/*
 * tally: add what one statement did to the step's account (*did, a List
 * of StepDid): rows it inserted, updated, deleted or merged (added up per
 * kind), or the integer a SELECT returned.
 */
static void
tally(int ret, List **did)
{
	const char *verb = NULL;
	int64		n = (int64) SPI_processed;
	StepDid    *d;
	ListCell   *lc;

	switch (ret)
	{
		case SPI_OK_SELECT:
			if (SPI_tuptable != NULL && SPI_processed == 1 &&
				SPI_tuptable->tupdesc->natts == 1)
			{
				Oid			type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
				bool		isnull;
				Datum		v = SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull);

				if (isnull)
					return;
				if (type == INT2OID)
					n = DatumGetInt16(v);
				else if (type == INT4OID)
					n = DatumGetInt32(v);
				else if (type == INT8OID)
					n = DatumGetInt64(v);
				else if (type == NUMERICOID)
					n = DatumGetInt64(DirectFunctionCall1(numeric_int8, v));
				else
					return;
				verb = "returned";
			}
			break;
		case SPI_OK_INSERT:
		case SPI_OK_INSERT_RETURNING:
			verb = "inserted";
			break;
		case SPI_OK_UPDATE:
		case SPI_OK_UPDATE_RETURNING:
			verb = "updated";
			break;
		case SPI_OK_DELETE:
		case SPI_OK_DELETE_RETURNING:
			verb = "deleted";
			break;
#ifdef SPI_OK_MERGE
		case SPI_OK_MERGE:
			verb = "merged";
			break;
#endif
		default:
			break;
	}
	if (verb == NULL)
		return;
	if (strcmp(verb, "returned") != 0)
		foreach(lc, *did)
		{
			d = (StepDid *) lfirst(lc);
			if (strcmp(d->verb, verb) == 0)
			{
				d->n += n;
				return;
			}
		}
	d = palloc(sizeof(StepDid));
	d->verb = verb;
	d->n = n;
	*did = lappend(*did, d);
}

/*
 * describe: "inserted 7 row(s), deleted 3 row(s)", "returned 7", or that
 * nothing was counted.  *count is the last integer returned, else the
 * rows affected in all, else -1.
 */
static char *
describe(List *did, int64 *count)
{
	StringInfoData buf;
	ListCell   *lc;
	int64		rows = -1;
	int64		returned = -1;
	bool		has_returned = false;

	initStringInfo(&buf);
	foreach(lc, did)
	{
		StepDid    *d = (StepDid *) lfirst(lc);

		if (buf.len)
			appendStringInfoString(&buf, ", ");
		if (strcmp(d->verb, "returned") == 0)
		{
			appendStringInfo(&buf, "returned %s", rs_format_count(d->n));
			returned = d->n;
			has_returned = true;
		}
		else
		{
			appendStringInfo(&buf, "%s %s row(s)", d->verb, rs_format_count(d->n));
			rows = Max(rows, 0) + d->n;
		}
	}
	if (buf.len == 0)
		appendStringInfoString(&buf, "ran (its statements report no row count)");
	*count = has_returned ? returned : rows;
	return buf.data;
}

/*
 * run_step: run a step's statements one by one; r->did says what they
 * did, r->count is the integer it returned or the rows it affected.
 */
static void
run_step(RsRebuild *r)
{
	List	   *stmts = rs_raw_parser(r->command);
	List	   *did = NIL;
	ListCell   *lc;

	foreach(lc, stmts)
	{
		RawStmt    *raw = lfirst_node(RawStmt, lc);
		char	   *sql = raw->stmt_len > 0
			? pnstrdup(r->command + raw->stmt_location, raw->stmt_len)
			: pstrdup(r->command + raw->stmt_location);
		int			ret = SPI_execute(sql, false, 0);

		if (ret < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("rebuild step %s could not run: %s",
							rs_message_value(r->label), SPI_result_code_string(ret)),
					 errhint("Rebuild steps run inside the reset's transaction and cannot commit, roll back or COPY to the client.")));
		tally(ret, &did);
		SPI_freetuptable(SPI_tuptable);
		pfree(sql);
	}
	r->did = describe(did, &r->count);
}

/*
 * rs_run_rebuilds: run every step of one phase (before: the steps that run
 * after the locks and before the deletes; else the rebuild steps after
 * them); append and NOTICE one line per step.
 */
void
rs_run_rebuilds(RsSession *s, RsPlan *plan, StringInfo report, bool before)
{
	ListCell   *lc;
	Oid			save_userid;
	int			save_sec;

	foreach(lc, plan->cfg->rebuilds)
	{
		RsRebuild  *r = (RsRebuild *) lfirst(lc);
		ErrorContextCallback ctx;
		int			nest;
		char	   *line;

		if (r->before != before)
			continue;

		ctx.callback = rebuild_context;
		ctx.arg = r;
		ctx.previous = error_context_stack;
		error_context_stack = &ctx;

		GetUserIdAndSecContext(&save_userid, &save_sec);
		SetUserIdAndSecContext(get_role_oid(r->run_as, false),
							   save_sec | SECURITY_LOCAL_USERID_CHANGE);
		nest = NewGUCNestLevel();
		(void) set_config_option("search_path", r->search_path,
								 PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		run_step(r);
		AtEOXact_GUC(true, nest);
		SetUserIdAndSecContext(save_userid, save_sec);

		error_context_stack = ctx.previous;

		line = before ? psprintf("Step \"%s\" (before the deletes): %s.", r->label, r->did)
			: psprintf("Rebuild \"%s\": %s.", r->label, r->did);
		ereport(NOTICE, (errmsg_internal("%s", line)));
		appendStringInfo(report, "%s\n", line);
	}
}
