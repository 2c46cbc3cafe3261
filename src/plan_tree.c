/*-------------------------------------------------------------------------
 *
 * plan_tree.c
 *	  The inheritance trees of the registered tables: every partition and
 *	  inheritance child, at any depth and in any schema, found, checked and
 *	  counted one by one.
 *
 * Emptying a table empties its whole tree (TRUNCATE and DELETE both
 * recurse), so the plan must name every relation in it with its own
 * count.  The trees are read from pg_inherits through the catalog
 * snapshot, the way TRUNCATE finds them, so what the plan lists is what a
 * TRUNCATE would reach (also under REPEATABLE READ).  Partitions being
 * detached concurrently are included, as TRUNCATE includes them.
 *
 * Three things block a plan here:
 *	- a registered table inside the tree of a table registered the other
 *	  way (kept inside emptied, or emptied inside kept);
 *	- a child that inherits from both an emptied and a kept table;
 *	- a partition or child of an emptied table that is neither registered
 *	  itself nor in a schema of registered tables: the reset would empty a
 *	  table nobody ever pointed it at.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/acl.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "plan.h"
#include "reset_system.h"

/*
 * Postgres allows at most 1664 target columns; count in chunks.  Each
 * count is a subquery the planner plans whole, and a backend keeps the
 * memory of its largest statement: 100 per statement keeps that small
 * (a third of 400's at a few thousand tables) for no measurable time.
 */
#define RS_COUNT_CHUNK 100

/*
 * member_name_cmp: order members of one parent by their names.
 */
static int
member_name_cmp(const ListCell *a, const ListCell *b)
{
	return strcmp(((RsMember *) lfirst(a))->name, ((RsMember *) lfirst(b))->name);
}

/*
 * direct_children: the relations that inherit directly from parent (or
 * are its partitions), as new RsMembers ordered by name.  Read through the
 * catalog snapshot, like find_all_inheritors().
 */
static List *
direct_children(Oid parent, int depth)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	List	   *oids = NIL;
	List	   *result = NIL;
	ListCell   *lc;

	rel = table_open(InheritsRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_inherits_inhparent, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(parent));
	scan = systable_beginscan(rel, InheritsParentIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		oids = lappend_oid(oids, ((Form_pg_inherits) GETSTRUCT(tup))->inhrelid);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	foreach(lc, oids)
	{
		Oid			relid = lfirst_oid(lc);
		char	   *name = rs_qualified_name(relid, false);
		RsMember   *m;

		if (name == NULL)
			continue;			/* dropped meanwhile */
		m = palloc0(sizeof(RsMember));
		m->relid = relid;
		m->parent = parent;
		m->depth = depth;
		m->name = name;
		m->qname = rs_qualified_name(relid, true);
		m->relkind = get_rel_relkind(relid);
		m->partition = get_rel_relispartition(relid);
		m->nspid = get_rel_namespace(relid);
		m->own_rows = -1;
		m->rows = -1;
		result = lappend(result, m);
	}
	list_sort(result, member_name_cmp);
	return result;
}

/*
 * walk: add the tree below parent to t->members, depth first.  A child
 * with two parents in the same tree is listed once, under the first.
 */
static void
walk(RsTable *t, Oid parent, int depth, List **seen)
{
	ListCell   *lc;

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	foreach(lc, direct_children(parent, depth))
	{
		RsMember   *m = (RsMember *) lfirst(lc);

		if (list_member_oid(*seen, m->relid))
			continue;
		*seen = lappend_oid(*seen, m->relid);
		t->members = lappend(t->members, m);
		walk(t, m->relid, depth + 1, seen);
	}
}

/*
 * rs_tree_build: t->members (every relation below t, depth first) and
 * t->descendants (t and all of them).
 */
void
rs_tree_build(RsPlan *plan, RsTable *t)
{
	List	   *seen = list_make1_oid(t->relid);

	t->members = NIL;
	walk(t, t->relid, 1, &seen);
	t->descendants = seen;
}

/*
 * find_registered: the registration of relid, or NULL.
 */
static RsTable *
find_registered(RsPlan *plan, Oid relid)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (!t->missing && t->relid == relid)
			return t;
	}
	return NULL;
}

/*
 * find_member: relid's entry in t's tree, or NULL.
 */
static RsMember *
find_member(RsTable *t, Oid relid)
{
	ListCell   *lc;

	foreach(lc, t->members)
		if (((RsMember *) lfirst(lc))->relid == relid)
			return (RsMember *) lfirst(lc);
	return NULL;
}

/*
 * find_kept_member: relid's entry in the tree of a preserved table, or
 * NULL.
 */
static RsMember *
find_kept_member(RsPlan *plan, Oid relid)
{
	ListCell   *lc;

	foreach(lc, plan->preserve_tables)
	{
		RsMember   *m = find_member((RsTable *) lfirst(lc), relid);

		if (m != NULL)
			return m;
	}
	return NULL;
}

/*
 * take_out_statement: the statement that takes m out of its parent's tree.
 */
static char *
take_out_statement(RsMember *m)
{
	char	   *parent = rs_qualified_name(m->parent, true);

	if (m->partition)
		return psprintf("ALTER TABLE %s DETACH PARTITION %s;", parent, m->qname);
	return psprintf("ALTER TABLE %s NO INHERIT %s;", m->qname, parent);
}

/*
 * kind_of: "partition" or "inheritance child", for messages.
 */
static const char *
kind_of(RsMember *m)
{
	return m->partition ? "partition" : "inheritance child";
}

/*
 * check_registered_inside: a registered table inside the tree of a table
 * registered the other way.  Both directions lose rows the plan promised
 * to keep: emptying the outer table empties a kept one, or emptying the
 * inner one empties rows of a kept tree.
 */
static void
check_registered_inside(RsPlan *plan, RsTable *t)
{
	RsTable    *outer = find_registered(plan, t->covered_by);
	RsMember   *m;
	RsBlocker  *b;
	char	   *take_out;
	char	   *again;

	if (outer == NULL || outer->action == t->action)
		return;
	m = find_member(outer, t->relid);
	if (m == NULL)
		return;
	take_out = take_out_statement(m);
	if (t->action == RS_ACTION_PRESERVE)
	{
		again = rs_register_table_call(t->relid, RS_ACTION_DELETE, t->label, t->storage_columns);
		b = rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
								psprintf("table \"%s\" is registered for preservation but is inside table \"%s\", which is registered for deletion",
										 t->name, outer->name),
								psprintf("\"%s\" is a %s of \"%s\": emptying \"%s\" empties it too.",
										 t->name, kind_of(m), rs_qualified_name(m->parent, false), outer->name),
								psprintf("Take it out of the tree to keep its rows: %s "
										 "or let it be emptied with \"%s\": %s",
										 take_out, outer->name, again));
	}
	else
	{
		again = rs_register_table_call(t->relid, RS_ACTION_PRESERVE, t->label, t->storage_columns);
		b = rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
								psprintf("table \"%s\" is registered for deletion but is inside table \"%s\", which is registered for preservation",
										 t->name, outer->name),
								psprintf("\"%s\" is a %s of \"%s\": its rows are rows of \"%s\", which a reset keeps.",
										 t->name, kind_of(m), rs_qualified_name(m->parent, false), outer->name),
								psprintf("Take it out of the tree to empty it alone: %s "
										 "or keep it with \"%s\": %s",
										 take_out, outer->name, again));
	}
	rs_blocker_fix(b, take_out);
	rs_blocker_fix(b, again);
}

/*
 * rs_tree_analyze: the blockers of the trees (see the header comment),
 * and each member's own registration, for the plan's lines.
 */
void
rs_tree_analyze(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (!t->missing && OidIsValid(t->covered_by))
			check_registered_inside(plan, t);
	}

	foreach(lc, list_concat(list_copy(plan->delete_tables), plan->preserve_tables))
	{
		RsTable    *root = (RsTable *) lfirst(lc);
		int			n = list_length(root->members);
		bool	   *flagged = palloc0(sizeof(bool) * Max(n, 1));
		int			i = 0;
		ListCell   *lc2;

		/*
		 * A root inside a tree registered the other way was reported by
		 * check_registered_inside, its whole tree with it.
		 */
		bool		inside_other = root->action == RS_ACTION_DELETE
			? rs_plan_preserves(plan, root->relid)
			: rs_plan_deletes(plan, root->relid);

		foreach(lc2, root->members)
		{
			RsMember   *m = (RsMember *) lfirst(lc2);

			m->registered = find_registered(plan, m->relid);

			/*
			 * Below a registration of the other kind everything is reported
			 * by check_registered_inside already.  Members come depth first,
			 * so the parent's flag is known.
			 */
			flagged[i] = inside_other ||
				(m->registered != NULL && m->registered->action != root->action);
			for (int j = i - 1; j >= 0 && !flagged[i]; j--)
				if (((RsMember *) list_nth(root->members, j))->relid == m->parent)
				{
					flagged[i] = flagged[j];
					break;
				}
			if (root->action == RS_ACTION_DELETE && !flagged[i])
			{
				if (rs_plan_preserves(plan, m->relid))
				{
					RsMember   *kept = find_kept_member(plan, m->relid);
					RsBlocker  *b;

					b = rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
											psprintf("table \"%s\" inherits from \"%s\", which a reset empties, and from \"%s\", which it keeps",
													 m->name, rs_qualified_name(m->parent, false),
													 kept ? rs_qualified_name(kept->parent, false) : "?"),
											psprintf("Emptying \"%s\" empties \"%s\", whose rows are also rows of a table registered for preservation.",
													 root->name, m->name),
											kept
											? psprintf("Take it out of one of the two trees: %s or %s",
													   take_out_statement(m), take_out_statement(kept))
											: psprintf("Take it out of one of the trees, for example: %s",
													   take_out_statement(m)));
					rs_blocker_fix(b, take_out_statement(m));
					if (kept)
						rs_blocker_fix(b, take_out_statement(kept));
				}
				else if (m->registered == NULL && !list_member_oid(plan->schemas, m->nspid))
				{
					char	   *reg = rs_register_table_call(m->relid, RS_ACTION_DELETE, get_rel_name(m->relid), NIL);
					RsBlocker  *b;

					b = rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
											psprintf("%s \"%s\" of \"%s\" is not registered, and no table of schema \"%s\" is",
													 kind_of(m), m->name, rs_qualified_name(m->parent, false),
													 get_namespace_name(m->nspid)),
											psprintf("Emptying \"%s\" empties every partition and inheritance child in its tree, in any schema; "
													 "a reset empties no table that was never registered, nor one outside the schemas of registered tables.",
													 root->name),
											psprintf("Register it to be emptied with \"%s\": %s or take it out of the tree: %s",
													 root->name, reg, take_out_statement(m)));
					rs_blocker_fix(b, reg);
					rs_blocker_fix(b, take_out_statement(m));
				}
			}
			i++;
		}
	}
}

/* One relation to count: a table at the root of a tree, or a member. */
typedef struct CountItem
{
	Oid			relid;
	char		relkind;
	bool		only;			/* count this relation alone (FROM ONLY) */
	char	   *qname;
	int64		rows;
	bool		estimated;
} CountItem;

/*
 * count_plain: exact counts of tables without partitions or children (or
 * of the relations of a tree one by one), many per query.
 */
static void
count_plain(List *items)
{
	int			total = list_length(items);

	for (int start = 0; start < total; start += RS_COUNT_CHUNK)
	{
		StringInfoData sql;
		int			end = Min(start + RS_COUNT_CHUNK, total);

		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT ");
		for (int i = start; i < end; i++)
			appendStringInfo(&sql, "%s(SELECT pg_catalog.count(*) FROM %s%s)",
							 i > start ? ", " : "",
							 ((CountItem *) list_nth(items, i))->only ? "ONLY " : "",
							 ((CountItem *) list_nth(items, i))->qname);
		rs_spi(sql.data, 0, NULL, NULL, NULL, false, SPI_OK_SELECT);
		for (int i = start; i < end; i++)
			((CountItem *) list_nth(items, i))->rows = rs_spi_int64(0, i - start, 0);
		SPI_freetuptable(SPI_tuptable);
		pfree(sql.data);
	}
}

/*
 * countable_alone: may every relation of t's tree be counted on its own
 * (FROM ONLY), which is as fast as counting the tree?  Only when the
 * caller may read each of them and none has row security (a partition
 * read directly applies its own policies, not its parent's).
 */
static bool
countable_alone(RsTable *t)
{
	List	   *relids = list_make1_oid(t->relid);
	ListCell   *lc;

	foreach(lc, t->members)
		relids = lappend_oid(relids, ((RsMember *) lfirst(lc))->relid);
	foreach(lc, relids)
	{
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(lfirst_oid(lc)));
		bool		rls;

		if (!HeapTupleIsValid(tup))
			return false;
		rls = ((Form_pg_class) GETSTRUCT(tup))->relrowsecurity;
		ReleaseSysCache(tup);
		if (rls || pg_class_aclcheck(lfirst_oid(lc), GetUserId(), ACL_SELECT) != ACLCHECK_OK)
			return false;
	}
	return true;
}

/*
 * count_tree: exact counts of every relation in t's tree, in one scan of
 * t: rows grouped by the relation that stores them.  Reading through the
 * registered table needs SELECT on it only, as TRUNCATE needs TRUNCATE on
 * it only (not on each partition).  Used when the relations cannot be
 * counted one by one (countable_alone): the grouping costs more.
 */
static void
count_tree(RsTable *t, List *items)
{
	int			n;
	ListCell   *lc;

	foreach(lc, items)
		((CountItem *) lfirst(lc))->rows = 0;
	n = rs_spi(psprintf("SELECT tableoid, pg_catalog.count(*) FROM %s GROUP BY 1", t->qname),
			   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		Oid			relid = rs_spi_oid(i, 0);

		foreach(lc, items)
			if (((CountItem *) lfirst(lc))->relid == relid)
				((CountItem *) lfirst(lc))->rows = rs_spi_int64(i, 1, 0);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * estimate_items: the statistics' row estimates (pg_class.reltuples).
 * Returns false when a relation that stores rows was never analyzed: its
 * tree is then counted exactly.  Partitioned tables store no rows.
 */
static bool
estimate_items(List *items)
{
	List	   *oids = NIL;
	ListCell   *lc;
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];
	bool		complete = true;
	int			n;

	foreach(lc, items)
		oids = lappend_oid(oids, ((CountItem *) lfirst(lc))->relid);
	values[0] = rs_oid_array(oids);
	n = rs_spi("SELECT oid, reltuples::pg_catalog.float8 FROM pg_catalog.pg_class"
			   " WHERE oid OPERATOR(pg_catalog.=) ANY ($1)",
			   1, argtypes, values, NULL, true, SPI_OK_SELECT);
	foreach(lc, items)
	{
		CountItem  *it = (CountItem *) lfirst(lc);
		bool		found = false;

		it->rows = 0;
		it->estimated = false;
		if (it->relkind == RELKIND_PARTITIONED_TABLE)
			continue;
		for (int i = 0; i < n && !found; i++)
		{
			bool		isnull;
			double		tuples;

			if (rs_spi_oid(i, 0) != it->relid)
				continue;
			found = true;
			tuples = DatumGetFloat8(rs_spi_datum(i, 1, &isnull));
			if (isnull || tuples < 0)
				complete = false;
			else
			{
				it->rows = (int64) tuples;
				it->estimated = true;
			}
		}
		if (!found)
			complete = false;
	}
	SPI_freetuptable(SPI_tuptable);
	return complete;
}

/*
 * rs_tree_count: the rows of every table and of every relation in its
 * tree: own_rows (stored in the relation itself) and rows (it and all
 * below it).  With estimate, from the statistics where they exist.
 */
void
rs_tree_count(List *tables, bool estimate)
{
	List	   *plain = NIL;
	List	   *per_table = NIL;	/* List of item lists, parallel to tables */
	ListCell   *lc;
	ListCell   *lc2;

	/* what to count: every relation that stores rows */
	foreach(lc, tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		List	   *items = NIL;
		CountItem  *it = palloc0(sizeof(CountItem));

		it->relid = t->relid;
		it->relkind = t->relkind;
		it->qname = t->qname;
		items = lappend(items, it);
		foreach(lc2, t->members)
		{
			RsMember   *m = (RsMember *) lfirst(lc2);

			it = palloc0(sizeof(CountItem));
			it->relid = m->relid;
			it->relkind = m->relkind;
			it->qname = m->qname;
			items = lappend(items, it);
		}
		per_table = lappend(per_table, items);
	}

	forboth(lc, tables, lc2, per_table)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		List	   *items = (List *) lfirst(lc2);

		/* a tree with a relation never analyzed is counted exactly */
		if (estimate && estimate_items(items))
			continue;
		if (estimate)
		{
			ListCell   *lc3;

			foreach(lc3, items)
				((CountItem *) lfirst(lc3))->estimated = false;
		}
		if (t->members == NIL)
			plain = lappend(plain, linitial(items));
		else if (countable_alone(t))
		{
			ListCell   *lc3;

			foreach(lc3, items)
			{
				CountItem  *it = (CountItem *) lfirst(lc3);

				it->only = true;
				it->rows = 0;
				if (it->relkind != RELKIND_PARTITIONED_TABLE)
					plain = lappend(plain, it);
			}
		}
		else
			count_tree(t, items);
	}
	count_plain(plain);

	/* sum up the trees: members come depth first, parents before children */
	forboth(lc, tables, lc2, per_table)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		List	   *items = (List *) lfirst(lc2);
		int			n = list_length(t->members);
		CountItem  *root = (CountItem *) linitial(items);

		t->own_rows = root->rows;
		t->estimated = root->estimated;
		for (int i = 0; i < n; i++)
		{
			RsMember   *m = (RsMember *) list_nth(t->members, i);
			CountItem  *it = (CountItem *) list_nth(items, i + 1);

			m->own_rows = it->rows;
			m->rows = it->rows;
			m->estimated = it->estimated;
			t->estimated |= it->estimated;
		}
		t->rows = t->own_rows;
		for (int i = n - 1; i >= 0; i--)
		{
			RsMember   *m = (RsMember *) list_nth(t->members, i);
			bool		added = false;

			for (int j = i - 1; j >= 0 && !added; j--)
			{
				RsMember   *p = (RsMember *) list_nth(t->members, j);

				if (p->relid == m->parent)
				{
					p->rows += m->rows;
					p->estimated |= m->estimated;
					added = true;
				}
			}
			if (!added)
				t->rows += m->rows;
		}
	}
}

/*
 * rs_tree_recount: count the tables again exactly, remembering the
 * earlier count in rows_before (the preserved tables after the rebuild
 * steps ran).
 */
void
rs_tree_recount(List *tables)
{
	ListCell   *lc;

	foreach(lc, tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		t->rows_before = t->rows;
	}
	rs_tree_count(tables, false);
}

/*
 * rs_tree_member_count: how many partitions and children the tables'
 * trees hold in all.
 */
int
rs_tree_member_count(List *tables)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, tables)
		n += list_length(((RsTable *) lfirst(lc))->members);
	return n;
}
