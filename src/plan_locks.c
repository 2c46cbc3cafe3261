/*-------------------------------------------------------------------------
 *
 * plan_locks.c
 *	  Will the server's shared lock table hold the locks a reset takes?
 *
 * A reset empties every table in one transaction, and that transaction
 * holds an ACCESS EXCLUSIVE lock on each relation it empties until it
 * commits: the tables, their partitions and children, their indexes, their
 * TOAST tables and the sequences it restarts.  Those locks live in the
 * shared lock table, sized at server start for max_locks_per_transaction
 * x (max_connections + max_prepared_transactions) locks.  A reset that
 * needs more fails half-way with "out of shared memory"; the plan says so
 * beforehand, with the setting to raise.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/twophase.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "storage/lock.h"

#include "plan.h"
#include "reset_system.h"

/*
 * count_locks: how many relations a reset of these tables locks: each
 * table and member of its tree, their indexes, their TOAST tables (and
 * the TOAST index) and the sequences they own.  One catalog query over all
 * of them.
 */
static int64
count_locks(List *relids)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];

	if (relids == NIL)
		return 0;
	values[0] = rs_oid_array(relids);
	rs_spi("SELECT (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c"
		   "         WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1))"
		   "     OPERATOR(pg_catalog.+) (SELECT 2 OPERATOR(pg_catalog.*) pg_catalog.count(*)"
		   "         FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) ANY ($1)"
		   "          AND c.reltoastrelid OPERATOR(pg_catalog.<>) 0)"
		   "     OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_index i"
		   "         WHERE i.indrelid OPERATOR(pg_catalog.=) ANY ($1))"
		   "     OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(DISTINCT d.objid) FROM pg_catalog.pg_depend d"
		   "         JOIN pg_catalog.pg_class s ON s.oid OPERATOR(pg_catalog.=) d.objid"
		   "        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
		   "          AND d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
		   "          AND d.refobjid OPERATOR(pg_catalog.=) ANY ($1)"
		   "          AND s.relkind OPERATOR(pg_catalog.=) 'S')",
		   1, argtypes, values, NULL, true, SPI_OK_SELECT);
	return rs_spi_int64(0, 0, 0);
}

/*
 * rs_plan_check_lock_capacity: warn when the relations the reset locks
 * exceed what the shared lock table is sure to hold.
 *
 * The table holds max_locks_per_transaction x (max_connections +
 * max_prepared_transactions) locks, shared by every session of the server
 * (background workers and autovacuum take from the same pool).  Counting
 * on all of it would only hold on an idle server, so the plan warns when
 * the reset alone would take more than half of it: the other half is the
 * margin for everything else running meanwhile.  The suggested value is
 * the smallest that gives the reset that margin, rounded up to a multiple
 * of 64 (the default).
 */
void
rs_plan_check_lock_capacity(RsPlan *plan)
{
	List	   *relids = NIL;
	ListCell   *lc;
	int64		needed;
	int64		slots = (int64) MaxConnections + max_prepared_xacts;
	int64		capacity = (int64) max_locks_per_xact * slots;
	int64		suggested;

	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		relids = lappend_oid(relids, t->relid);
		foreach(lc2, t->members)
			relids = lappend_oid(relids, ((RsMember *) lfirst(lc2))->relid);
	}
	needed = count_locks(relids);
	if (needed <= capacity / 2)
		return;
	suggested = (2 * needed + slots - 1) / slots;
	suggested = (suggested + 63) / 64 * 64;
	rs_plan_add_warning(plan,
						"the reset locks about " INT64_FORMAT " relations (tables, partitions, indexes, "
						"TOAST tables, sequences) in one transaction; with max_locks_per_transaction = %d "
						"the server's shared lock table holds about " INT64_FORMAT " locks in all, and the "
						"reset may fail with \"out of shared memory\". Raise it, then restart the server: "
						"ALTER SYSTEM SET max_locks_per_transaction = " INT64_FORMAT ";",
						needed, max_locks_per_xact, capacity, suggested);
}
