/*-------------------------------------------------------------------------
 *
 * rebuild.c
 *	  Run the registered rebuild steps after the deletes, in order.
 *
 * Each step is SQL run through SPI in the reset's transaction, as the
 * role that registered it and with the search_path it had then (like a
 * SECURITY DEFINER function with a SET clause): the caller's session
 * cannot change what a step does.  An error in a step propagates (with the
 * step named in the error context) and aborts the caller's transaction,
 * so every delete rolls back with it.
 *
 * The count reported for a step is the single integer it returns
 * ("SELECT app.seed_validators()" returning 7 gives "Recreated 7 baseline
 * validator(s)."), or the number of rows an INSERT/UPDATE/DELETE affected.
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

	errcontext("reset_system rebuild step \"%s\"", r->label);
}

/*
 * step_count: the count a step reports, or -1 for none.
 */
static int64
step_count(int ret)
{
	switch (ret)
	{
		case SPI_OK_SELECT:
			if (SPI_tuptable != NULL && SPI_processed == 1 &&
				SPI_tuptable->tupdesc->natts == 1)
			{
				Oid			type = SPI_gettypeid(SPI_tuptable->tupdesc, 1);
				bool		isnull;
				Datum		d = SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull);

				if (isnull)
					return -1;
				if (type == INT2OID)
					return DatumGetInt16(d);
				if (type == INT4OID)
					return DatumGetInt32(d);
				if (type == INT8OID)
					return DatumGetInt64(d);
				if (type == NUMERICOID)
					return DatumGetInt64(DirectFunctionCall1(numeric_int8, d));
			}
			return -1;
		case SPI_OK_INSERT:
		case SPI_OK_UPDATE:
		case SPI_OK_DELETE:
		case SPI_OK_INSERT_RETURNING:
		case SPI_OK_UPDATE_RETURNING:
		case SPI_OK_DELETE_RETURNING:
#ifdef SPI_OK_MERGE
		case SPI_OK_MERGE:
#endif
			return (int64) SPI_processed;
		default:
			return -1;
	}
}

/*
 * rs_run_rebuilds: run every step; append and NOTICE one line per step.
 */
void
rs_run_rebuilds(RsSession *s, RsPlan *plan, StringInfo report)
{
	ListCell   *lc;
	Oid			save_userid;
	int			save_sec;

	foreach(lc, plan->cfg->rebuilds)
	{
		RsRebuild  *r = (RsRebuild *) lfirst(lc);
		ErrorContextCallback ctx;
		int			nest;
		int			ret;
		char	   *line;

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
		ret = SPI_execute(r->command, false, 0);
		if (ret < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("rebuild step \"%s\" could not run: %s",
							r->label, SPI_result_code_string(ret)),
					 errhint("Rebuild steps run inside the reset's transaction and cannot commit, roll back or COPY to the client.")));
		r->count = step_count(ret);
		AtEOXact_GUC(true, nest);
		SetUserIdAndSecContext(save_userid, save_sec);
		SPI_freetuptable(SPI_tuptable);

		error_context_stack = ctx.previous;

		if (r->count >= 0)
			line = psprintf("Recreated %s %s(s).", rs_format_count(r->count), r->label);
		else
			line = psprintf("Ran rebuild step \"%s\".", r->label);
		ereport(NOTICE, (errmsg_internal("%s", line)));
		appendStringInfo(report, "%s\n", line);
	}
}
