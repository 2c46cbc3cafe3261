/*-------------------------------------------------------------------------
 *
 * strategy.c
 *	  Decide how each deleted table is emptied, and empty them.
 *
 * Two ways reach the same end state (no rows, owned sequences restarted,
 * or left where they are with reset_system.restart_identity off):
 *
 *	- TRUNCATE ... RESTART IDENTITY: constant time per table, but it
 *	  creates new files for the table, its TOAST table and every index.
 *	- DELETE plus restarting the owned sequences: cost grows with the rows,
 *	  but nothing is created on disk.
 *
 * In truncate mode (the default) a table with at most
 * reset_system.small_table_rows rows is emptied with DELETE when that is
 * certain to give the same result as TRUNCATE: a plain table without
 * inheritance children, user triggers, rules or row security, not in a
 * foreign-key cycle, and one the caller may DELETE from, in a READ
 * COMMITTED transaction (under REPEATABLE READ a DELETE would not see rows
 * committed after the transaction's snapshot, TRUNCATE removes them all).  All other
 * non-empty tables go into ONE multi-table TRUNCATE.  TRUNCATE requires
 * every table that references a truncated table to be truncated in the
 * same statement, so the truncated set is closed under "is referenced by".
 * Tables already empty are skipped (their sequences are restarted if they
 * had been used).
 *
 * The small tables of truncate mode are emptied together, RS_DELETE_BATCH
 * tables per statement (data-modifying CTEs), with session_replication_role
 * set to replica for those statements only, so that no foreign-key trigger
 * fires.  That is the reasoning TRUNCATE itself follows: a table the
 * reset keeps may reference a deleted table only when the reset has set
 * those references to NULL first (the plan refuses any other), every
 * table involved is held under ACCESS EXCLUSIVE lock, and these tables
 * have no user triggers or rules to skip, so the checks could only ever
 * look at tables that end empty or at keys that point nowhere.  Checking them row by row was
 * most of the time a reset of many small tables took.
 *
 * In delete mode everything is emptied with DELETE, children before
 * parents, so row triggers fire.  Tables in a foreign-key cycle are
 * deleted by one statement (data-modifying CTEs), because foreign keys are
 * checked at the end of each statement.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/sequence.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"

#include "compat.h"
#include "strategy.h"
#include "reset_system.h"

/* Small tables emptied per statement in truncate mode. */
#define RS_DELETE_BATCH 100

/* Tarjan's strongly connected components over the deleted tables. */
typedef struct SccState
{
	RsPlan	   *plan;
	int			ntables;
	RsTable   **tables;
	int		   *index;
	int		   *lowlink;
	bool	   *onstack;
	int		   *stack;
	int			sp;
	int			counter;
	int		   *component;		/* component number of each table */
	int		   *compsize;
	int			ncomponents;
	List	   *emitted;		/* component numbers, in emission order */
} SccState;

/*
 * table_index: position of t in the state's table array.
 */
static int
table_index(SccState *st, RsTable *t)
{
	for (int i = 0; i < st->ntables; i++)
		if (st->tables[i] == t)
			return i;
	elog(ERROR, "reset_system: table missing from the foreign-key graph");
	return -1;
}

/*
 * strongconnect: the recursive step of Tarjan's algorithm.  Components are
 * emitted referenced-first (a component comes after every component it
 * references).
 */
static void
strongconnect(SccState *st, int v)
{
	ListCell   *lc;

	check_stack_depth();
	st->index[v] = st->lowlink[v] = st->counter++;
	st->stack[st->sp++] = v;
	st->onstack[v] = true;

	foreach(lc, st->plan->edges)
	{
		RsFkEdge   *e = (RsFkEdge *) lfirst(lc);
		int			w;

		if (e->referencing != st->tables[v])
			continue;
		w = table_index(st, e->referenced);
		if (st->index[w] < 0)
		{
			strongconnect(st, w);
			st->lowlink[v] = Min(st->lowlink[v], st->lowlink[w]);
		}
		else if (st->onstack[w])
			st->lowlink[v] = Min(st->lowlink[v], st->index[w]);
	}

	if (st->lowlink[v] == st->index[v])
	{
		int			c = st->ncomponents++;
		int			w;

		do
		{
			w = st->stack[--st->sp];
			st->onstack[w] = false;
			st->component[w] = c;
			st->compsize[c]++;
		} while (w != v);
		st->emitted = lappend_int(st->emitted, c);
	}
}

/*
 * compute_components: run Tarjan over plan->delete_tables.
 */
static SccState *
compute_components(RsPlan *plan)
{
	SccState   *st = palloc0(sizeof(SccState));
	int			n = list_length(plan->delete_tables);
	ListCell   *lc;
	int			i = 0;

	st->plan = plan;
	st->ntables = n;
	st->tables = palloc(sizeof(RsTable *) * Max(n, 1));
	st->index = palloc(sizeof(int) * Max(n, 1));
	st->lowlink = palloc(sizeof(int) * Max(n, 1));
	st->onstack = palloc0(sizeof(bool) * Max(n, 1));
	st->stack = palloc(sizeof(int) * Max(n, 1));
	st->component = palloc(sizeof(int) * Max(n, 1));
	st->compsize = palloc0(sizeof(int) * Max(n, 1));
	foreach(lc, plan->delete_tables)
	{
		st->tables[i] = (RsTable *) lfirst(lc);
		st->index[i] = -1;
		i++;
	}
	for (i = 0; i < n; i++)
		if (st->index[i] < 0)
			strongconnect(st, i);
	return st;
}

/*
 * can_delete_small: may this table take the DELETE path in truncate mode?
 */
static bool
can_delete_small(RsTable *t, bool in_cycle)
{
	return t->rows > 0 &&
		t->rows <= rs_small_table_rows &&
		t->relkind == RELKIND_RELATION &&
		list_length(t->descendants) == 1 &&
		!t->has_user_triggers &&
		!t->has_rules &&
		!t->has_rls &&
		!in_cycle &&
		!IsolationUsesXactSnapshot() &&
		pg_class_aclcheck(t->relid, GetUserId(), ACL_DELETE) == ACLCHECK_OK;
}

/*
 * rs_strategy_sequences: collect the owned sequences of every deleted
 * table (and its children) into t->sequences; return all of them.  They
 * are locked with the tables, since restarting them needs an exclusive
 * lock too.
 */
List *
rs_strategy_sequences(RsPlan *plan)
{
	List	   *all = NIL;
	ListCell   *lc;

	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		t->sequences = NIL;
		foreach(lc2, t->descendants)
			t->sequences = list_concat_unique_oid(t->sequences,
												  getOwnedSequences(lfirst_oid(lc2)));
		all = list_concat_unique_oid(all, t->sequences);
	}
	return all;
}

/*
 * rs_strategy_decide: set t->method and t->order for every deleted table.
 */
void
rs_strategy_decide(RsPlan *plan)
{
	SccState   *st = compute_components(plan);
	ListCell   *lc;
	bool		changed;
	int			order = 0;

	for (int i = 0; i < st->ntables; i++)
	{
		RsTable    *t = st->tables[i];
		bool		in_cycle = st->compsize[st->component[i]] > 1;

		if (t->rows == 0)
			t->method = RS_METHOD_SKIP;
		else if (rs_mode == RS_MODE_DELETE)
			t->method = RS_METHOD_DELETE;
		else
			t->method = can_delete_small(t, in_cycle) ? RS_METHOD_DELETE
				: RS_METHOD_TRUNCATE;
	}

	/* close the truncated set under "is referenced by" */
	do
	{
		changed = false;
		foreach(lc, plan->edges)
		{
			RsFkEdge   *e = (RsFkEdge *) lfirst(lc);

			if (e->referenced->method == RS_METHOD_TRUNCATE &&
				e->referencing->method != RS_METHOD_TRUNCATE)
			{
				e->referencing->method = RS_METHOD_TRUNCATE;
				changed = true;
			}
		}
	} while (changed);

	/*
	 * DELETE order: children before parents, i.e. the reverse of Tarjan's
	 * emission order.  Members of one component share an order number.
	 */
	for (int k = list_length(st->emitted) - 1; k >= 0; k--)
	{
		int			c = list_nth_int(st->emitted, k);

		for (int i = 0; i < st->ntables; i++)
			if (st->component[i] == c)
				st->tables[i]->order = order;
		order++;
	}
}

/*
 * restart_sequences: what TRUNCATE ... RESTART IDENTITY does to the owned
 * sequences of a table: back to their start value, transactionally.  When
 * only_used is set, sequences never advanced are left alone.
 */
static void
restart_sequences(List *sequences, bool only_used)
{
	ListCell   *lc;

	foreach(lc, sequences)
	{
		Oid			seq = lfirst_oid(lc);

		if (!rs_class_ownercheck(seq, GetUserId()))
			aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_SEQUENCE, get_rel_name(seq));
		if (only_used)
		{
			Oid			argtypes[1] = {OIDOID};
			Datum		values[1];

			values[0] = ObjectIdGetDatum(seq);
			rs_spi("SELECT pg_catalog.pg_sequence_last_value($1::pg_catalog.regclass) IS NOT NULL",
				   1, argtypes, values, NULL, false, SPI_OK_SELECT);
			if (!rs_spi_bool(0, 0))
				continue;
		}
		ResetSequence(seq);
	}
}

/*
 * check_emptied: after a DELETE that removed fewer rows than were counted,
 * make sure the table is really empty.  A BEFORE DELETE trigger returning
 * NULL or a row security policy can keep rows, and then the end state
 * would not be the clean slate the plan promised.
 */
static void
check_emptied(RsTable *t)
{
	rs_spi(psprintf("SELECT pg_catalog.count(*) FROM %s", t->qname),
		   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	if (rs_spi_int64(0, 0, 0) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table \"%s\" still has " INT64_FORMAT " row(s) after DELETE",
						t->name, rs_spi_int64(0, 0, 0)),
				 errdetail("A BEFORE DELETE trigger or a row security policy kept them; the reset was rolled back."),
				 errhint("Fix the trigger or policy, or use SET reset_system.mode = 'truncate'.")));
}

/*
 * run_delete_group: DELETE the tables of one foreign-key component in one
 * statement (one table: a plain DELETE).
 */
static void
run_delete_group(List *group)
{
	StringInfoData sql;
	ListCell   *lc;
	int			processed;
	int64		expected = 0;

	initStringInfo(&sql);
	if (list_length(group) == 1)
		appendStringInfo(&sql, "DELETE FROM %s", ((RsTable *) linitial(group))->qname);
	else
	{
		int			i = 0;

		appendStringInfoString(&sql, "WITH ");
		foreach(lc, group)
		{
			appendStringInfo(&sql, "%sd%d AS (DELETE FROM %s)", i > 0 ? ", " : "", i,
							 ((RsTable *) lfirst(lc))->qname);
			i++;
		}
		appendStringInfoString(&sql, " SELECT 1");
	}
	processed = rs_spi(sql.data, 0, NULL, NULL, NULL, false, 0);
	foreach(lc, group)
		expected += ((RsTable *) lfirst(lc))->rows;
	if (list_length(group) > 1 || processed != expected)
		foreach(lc, group)
			check_emptied((RsTable *) lfirst(lc));
}

/*
 * run_small_deletes: empty the DELETE-path tables of truncate mode, in
 * statements of up to RS_DELETE_BATCH tables each, without foreign-key
 * triggers (see the header comment for why that is safe).  Each statement
 * returns the number of rows each DELETE removed; a table where that is
 * not the number counted under the lock is checked to be empty.
 */
static void
run_small_deletes(List *tables)
{
	int			save_nestlevel;
	int			ntables = list_length(tables);

	if (tables == NIL)
		return;

	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("session_replication_role", "replica",
							 PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);

	for (int start = 0; start < ntables; start += RS_DELETE_BATCH)
	{
		int			end = Min(start + RS_DELETE_BATCH, ntables);
		StringInfoData sql;

		initStringInfo(&sql);
		appendStringInfoString(&sql, "WITH ");
		for (int i = start; i < end; i++)
			appendStringInfo(&sql, "%sd%d AS (DELETE FROM %s RETURNING 1)",
							 i > start ? ", " : "", i - start,
							 ((RsTable *) list_nth(tables, i))->qname);
		appendStringInfoString(&sql, " SELECT ");
		for (int i = start; i < end; i++)
			appendStringInfo(&sql, "%s(SELECT pg_catalog.count(*) FROM d%d)",
							 i > start ? ", " : "", i - start);
		rs_spi(sql.data, 0, NULL, NULL, NULL, false, SPI_OK_SELECT);
		for (int i = start; i < end; i++)
		{
			RsTable    *t = (RsTable *) list_nth(tables, i);

			if (rs_spi_int64(0, i - start, -1) != t->rows)
				check_emptied(t);
		}
		pfree(sql.data);
	}

	AtEOXact_GUC(true, save_nestlevel);
}

/*
 * rs_strategy_run: empty the deleted tables as decided.  TRUNCATE first
 * (truncated tables may reference DELETE-path tables, never the other way
 * round), then in truncate mode the small tables in batches, in delete
 * mode the DELETE groups children first; then the sequences.  Kept tables
 * that reference a truncated table have had their foreign keys dropped
 * (kept_run.c); the kept rows of every other one point nowhere any more.
 */
void
rs_strategy_run(RsPlan *plan)
{
	StringInfoData sql;
	ListCell   *lc;
	int			ntruncate = 0;
	int			maxorder = -1;
	List	   *small = NIL;

	initStringInfo(&sql);
	appendStringInfoString(&sql, "TRUNCATE TABLE ");
	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (t->method == RS_METHOD_TRUNCATE)
			appendStringInfo(&sql, "%s%s", ntruncate++ ? ", " : "", t->qname);
		else if (t->method == RS_METHOD_DELETE)
			small = lappend(small, t);
		maxorder = Max(maxorder, t->order);
	}
	if (plan->restart_identity)
		appendStringInfoString(&sql, " RESTART IDENTITY");
	if (ntruncate > 0)
		rs_spi(sql.data, 0, NULL, NULL, NULL, false, SPI_OK_UTILITY);

	if (rs_mode == RS_MODE_TRUNCATE)
		run_small_deletes(small);
	else
	{
		for (int o = 0; o <= maxorder; o++)
		{
			List	   *group = NIL;

			foreach(lc, plan->delete_tables)
			{
				RsTable    *t = (RsTable *) lfirst(lc);

				if (t->method == RS_METHOD_DELETE && t->order == o)
					group = lappend(group, t);
			}
			if (group != NIL)
				run_delete_group(group);
		}
	}

	/* reset_system.restart_identity off: sequences go on where they are */
	if (!plan->restart_identity)
		return;
	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (t->method == RS_METHOD_DELETE)
			restart_sequences(t->sequences, false);
		else if (t->method == RS_METHOD_SKIP)
			restart_sequences(t->sequences, true);
	}
}

/*
 * rs_method_name: how a table was emptied, for the history.
 */
const char *
rs_method_name(RsMethod m)
{
	switch (m)
	{
		case RS_METHOD_SKIP:
			return "empty";
		case RS_METHOD_TRUNCATE:
			return "truncate";
		case RS_METHOD_DELETE:
			return "delete";
		default:
			return "none";
	}
}
