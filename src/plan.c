/*-------------------------------------------------------------------------
 *
 * plan.c
 *	  Build a reset plan: resolve the registered tables and their trees of
 *	  partitions and children, find what blocks a reset (foreign keys into
 *	  deleted tables, stale registrations), warn about tables nobody
 *	  registered, and count rows exactly.
 *
 * reset_plan() and reset_execute() share this code: execute resolves the
 * plan again under its locks and refuses on any blocker, so what the
 * operator read is what runs.  The parts live in their own files:
 * plan_tree.c (inheritance trees), plan_registrations.c (registrations
 * checked against the catalogs), plan_token.c (the token) and
 * plan_render.c (the text and JSON a person or a script reads).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "commands/dbcommands.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/acl.h"
#include "render.h"

#include "plan.h"
#include "queue.h"
#include "reset_system.h"

/*
 * rs_plan_add_warning: append a formatted warning line.
 */
void
rs_plan_add_warning(RsPlan *plan, const char *fmt,...)
{
	StringInfoData buf;

	initStringInfo(&buf);
	for (;;)
	{
		va_list		args;
		int			needed;

		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	plan->warnings = lappend(plan->warnings, buf.data);
}

/*
 * rs_plan_add_blocker: record a reason reset_execute must refuse.
 */
RsBlocker *
rs_plan_add_blocker(RsPlan *plan, int sqlstate, char *message, char *detail,
					char *hint)
{
	RsBlocker  *b = palloc0(sizeof(RsBlocker));

	b->sqlstate = sqlstate;
	b->message = message;
	b->detail = detail;
	b->hint = hint;
	plan->blockers = lappend(plan->blockers, b);
	return b;
}

/*
 * rs_blocker_fix: one SQL text that, once run, removes the blocker (the
 * hint quotes it word for word; several are alternatives).  Scripts read
 * them from reset_plan_json(), and the tests run each one.
 */
void
rs_blocker_fix(RsBlocker *b, char *sql)
{
	b->fixes = lappend(b->fixes, sql);
}

/*
 * rs_plan_raise_blockers: ERROR with the first blocker, listing the others
 * in the detail.  Does nothing when there is none.
 */
void
rs_plan_raise_blockers(RsPlan *plan)
{
	RsBlocker  *first;
	StringInfoData detail;
	ListCell   *lc;

	if (plan->blockers == NIL)
		return;
	first = (RsBlocker *) linitial(plan->blockers);
	initStringInfo(&detail);
	if (first->detail)
		appendStringInfoString(&detail, first->detail);
	for_each_from(lc, plan->blockers, 1)
	{
		RsBlocker  *b = (RsBlocker *) lfirst(lc);

		appendStringInfo(&detail, "%sAlso blocking: %s.",
						 detail.len ? "\n" : "", b->message);
	}
	ereport(ERROR,
			(errcode(first->sqlstate),
			 errmsg("%s", first->message),
			 detail.len ? errdetail("%s", detail.data) : 0,
			 first->hint ? errhint("%s", first->hint) : 0));
}

/*
 * rs_plan_find_delete: the deleted table whose inheritance tree holds
 * relid, or NULL.
 */
RsTable *
rs_plan_find_delete(RsPlan *plan, Oid relid)
{
	ListCell   *lc;

	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (list_member_oid(t->descendants, relid))
			return t;
	}
	return NULL;
}

/*
 * rs_plan_find_preserve: the preserved table whose inheritance tree holds
 * relid, or NULL.
 */
RsTable *
rs_plan_find_preserve(RsPlan *plan, Oid relid)
{
	ListCell   *lc;

	foreach(lc, plan->preserve_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (list_member_oid(t->descendants, relid))
			return t;
	}
	return NULL;
}

/*
 * describe_server: how the client reached this server, for the plan's
 * first lines (the operator must see which database they are pointed at).
 */
static void
describe_server(RsPlan *plan)
{
	const char *port = GetConfigOption("port", false, false);
	const char *cluster = GetConfigOption("cluster_name", true, false);

	rs_spi("SELECT pg_catalog.host(pg_catalog.inet_server_addr()),"
		   " pg_catalog.inet_server_port()",
		   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	if (!rs_spi_isnull(0, 0))
	{
		char	   *host = rs_spi_text(0, 0);
		char	   *inport = rs_spi_text(0, 1);

		plan->server = strchr(host, ':') ? psprintf("[%s]:%s", host, inport)
			: psprintf("%s:%s", host, inport);
	}
	else
	{
		char	   *dirs = pstrdup(GetConfigOption("unix_socket_directories", false, false));
		char	   *comma = strchr(dirs, ',');

		if (comma)
			*comma = '\0';
		plan->server = psprintf("local socket in %s, port %s", dirs, port);
	}
	plan->cluster_name = (cluster && cluster[0]) ? pstrdup(cluster) : NULL;
}

/*
 * unique_oids: oids without repeats (the first of each kept, in order),
 * and in *sorted (*n of them) the same sorted, for rs_plan_deletes and
 * rs_plan_preserves: with thousands of tables, a list searched once per
 * table would make the plan quadratic.
 */
static List *
unique_oids(List *oids, Oid **sorted, int *n)
{
	int			len = list_length(oids);
	Oid		   *all = palloc(sizeof(Oid) * Max(len, 1));
	bool	   *taken;
	List	   *result = NIL;
	ListCell   *lc;
	int			i = 0;
	int			u = 0;

	foreach(lc, oids)
		all[i++] = lfirst_oid(lc);
	qsort(all, len, sizeof(Oid), oid_cmp);
	for (i = 0; i < len; i++)
		if (u == 0 || all[u - 1] != all[i])
			all[u++] = all[i];
	taken = palloc0(sizeof(bool) * Max(u, 1));
	foreach(lc, oids)
	{
		Oid		   *hit = bsearch(&lfirst_oid(lc), all, u, sizeof(Oid), oid_cmp);
		int			k = hit - all;

		if (!taken[k])
		{
			taken[k] = true;
			result = lappend_oid(result, lfirst_oid(lc));
		}
	}
	pfree(taken);
	*sorted = all;
	*n = u;
	return result;
}

/*
 * rs_plan_deletes: does the reset empty relid (a registered table or a
 * relation in its tree)?  As list_member_oid(plan->effective_delete), by
 * binary search.
 */
bool
rs_plan_deletes(RsPlan *plan, Oid relid)
{
	return plan->ndelete_sorted > 0 &&
		bsearch(&relid, plan->delete_sorted, plan->ndelete_sorted, sizeof(Oid), oid_cmp) != NULL;
}

/*
 * rs_plan_preserves: is relid kept (a table registered for preservation
 * or a relation in its tree)?
 */
bool
rs_plan_preserves(RsPlan *plan, Oid relid)
{
	return plan->npreserve_sorted > 0 &&
		bsearch(&relid, plan->preserve_sorted, plan->npreserve_sorted, sizeof(Oid), oid_cmp) != NULL;
}

/*
 * resolve_tables: look each registration up in the catalogs, build the
 * inheritance tree of each registered table, and sort the tables into the
 * delete and preserve lists.  A registered table inside the tree of
 * another registered table is listed under it (plan->covered) when both
 * are registered alike; plan_tree.c blocks the plan when they are not.
 */
static void
resolve_tables(RsPlan *plan)
{
	ListCell   *lc;
	List	   *holders = NIL;

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		t->name = rs_qualified_name(t->relid, false);
		if (t->name == NULL)
		{
			t->missing = true;
			rs_plan_add_warning(plan,
								"registered table %s (OID %u) no longer exists and is skipped; "
								"remove the registration with SELECT reset_unregister(%u);",
								t->registered_name, t->relid, t->relid);
			continue;
		}
		t->qname = rs_qualified_name(t->relid, true);
		t->relkind = get_rel_relkind(t->relid);
		t->nspid = get_rel_namespace(t->relid);
		plan->schemas = list_append_unique_oid(plan->schemas, t->nspid);
		rs_tree_build(plan, t);
		if (strcmp(t->qname, t->registered_name) != 0)
		{
			char	   *again = t->force
				? rs_register_table_call_force(t->relid, t->label, t->storage_columns)
				: rs_register_table_call(t->relid, t->action, t->label, t->storage_columns);

			t->renamed = true;
			rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
								psprintf("registered table \"%s\" is now named \"%s\"",
										 t->registered_name, t->name),
								psprintf("It was registered for %s as \"%s\" (OID %u). "
										 "A renamed table, or a dropped table whose OID was reused, "
										 "must be confirmed before a reset touches it.",
										 t->action == RS_ACTION_DELETE ? "deletion" : "preservation",
										 t->registered_name, t->relid),
								psprintf("Register it again under its new name: %s", again)),
						   again);
		}
	}

	/*
	 * A registered table inside the tree of another one is covered by the
	 * outermost registered table whose tree holds it.  Only a table with
	 * members holds another: those are few, and looking through them alone
	 * keeps this linear in the number of tables.
	 */
	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (!t->missing && t->members != NIL)
			holders = lappend(holders, t);
	}
	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		if (t->missing)
			continue;
		foreach(lc2, holders)
		{
			RsTable    *r = (RsTable *) lfirst(lc2);

			if (r == t || r->missing || !list_member_oid(r->descendants, t->relid))
				continue;
			/* prefer an ancestor that no other registered table holds */
			if (!OidIsValid(t->covered_by) ||
				list_member_oid(r->descendants, t->covered_by))
				t->covered_by = r->relid;
		}
	}

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		RsTable    *outer = NULL;

		if (t->missing)
			continue;
		if (OidIsValid(t->covered_by))
		{
			ListCell   *lc2;

			foreach(lc2, plan->cfg->tables)
				if (((RsTable *) lfirst(lc2))->relid == t->covered_by)
					outer = (RsTable *) lfirst(lc2);
		}
		if (outer != NULL && outer->action == t->action)
		{
			/* listed in the outer table's tree, under its own label */
			plan->covered = lappend(plan->covered, t);
			continue;
		}
		if (t->action == RS_ACTION_PRESERVE)
		{
			plan->preserve_tables = lappend(plan->preserve_tables, t);
			plan->effective_preserve = list_concat(plan->effective_preserve, t->descendants);
		}
		else
		{
			plan->delete_tables = lappend(plan->delete_tables, t);
			plan->effective_delete = list_concat(plan->effective_delete, t->descendants);
		}
	}
	plan->effective_delete = unique_oids(plan->effective_delete, &plan->delete_sorted,
										 &plan->ndelete_sorted);
	plan->effective_preserve = unique_oids(plan->effective_preserve, &plan->preserve_sorted,
										   &plan->npreserve_sorted);
}

/*
 * load_schema_tables: every permanent ordinary or partitioned table in the
 * schemas of the registered tables, registered or not, partitions
 * included.  Tables of extensions are not the application's and are left
 * out.  The token covers this set: a table added by a migration after the
 * plan was read makes the old token fail.
 */
static void
load_schema_tables(RsPlan *plan)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];
	int			n;

	if (plan->schemas == NIL)
		return;
	values[0] = rs_oid_array(plan->schemas);
	n = rs_spi("SELECT c.oid, c.relkind::pg_catalog.text, c.relispartition,"
			   " n.nspname::pg_catalog.text, c.relname::pg_catalog.text"
			   " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
			   "   ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
			   " WHERE c.relnamespace OPERATOR(pg_catalog.=) ANY ($1)"
			   "   AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r','p']::pg_catalog.\"char\"[])"
			   "   AND c.relpersistence OPERATOR(pg_catalog.<>) 't'"
			   "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
			   "        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
			   "          AND d.objid OPERATOR(pg_catalog.=) c.oid"
			   "          AND d.deptype OPERATOR(pg_catalog.=) 'e')"
			   " ORDER BY n.nspname, c.relname",
			   1, argtypes, values, NULL, true, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		RsSchemaTable *st = palloc0(sizeof(RsSchemaTable));
		char	   *nsp = rs_spi_text(i, 3);
		char	   *rel = rs_spi_text(i, 4);

		st->relid = rs_spi_oid(i, 0);
		st->relkind = rs_spi_text(i, 1)[0];
		st->partition = rs_spi_bool(i, 2);
		st->name = psprintf("%s.%s", nsp, rel);
		st->qname = quote_qualified_identifier(nsp, rel);
		plan->schema_tables = lappend(plan->schema_tables, st);
	}
	SPI_freetuptable(SPI_tuptable);
}

/*
 * rs_plan_key_tables: the registered tables whose storage columns hold
 * the keys of the rows a reset deletes (action delete) or keeps (action
 * preserve): the tables at the roots of the trees, and the registered
 * tables inside them, whose own storage columns are read too.
 */
List *
rs_plan_key_tables(RsPlan *plan, RsAction action)
{
	List	   *tables = list_copy(action == RS_ACTION_DELETE
								   ? plan->delete_tables : plan->preserve_tables);
	ListCell   *lc;

	foreach(lc, plan->covered)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (t->action == action && t->storage_columns != NIL)
			tables = lappend(tables, t);
	}
	return tables;
}

/*
 * rs_plan_resolve: the registrations and the structure they depend on,
 * read from the catalogs now, and the token over both.  reset_execute
 * calls it again once it holds its locks: what runs is what the catalogs
 * say under the locks, and the token must still match.  Clears the
 * warnings and blockers found so far (the analysis runs after it).
 */
void
rs_plan_resolve(RsSession *s, RsPlan *plan)
{
	ListCell   *lc;

	plan->cfg = rs_load_config(s);
	plan->delete_tables = NIL;
	plan->preserve_tables = NIL;
	plan->covered = NIL;
	plan->effective_delete = NIL;
	plan->effective_preserve = NIL;
	plan->ndelete_sorted = 0;
	plan->npreserve_sorted = 0;
	plan->edges = NIL;
	plan->schemas = NIL;
	plan->schema_tables = NIL;
	plan->warnings = NIL;
	plan->blockers = NIL;
	plan->counted = false;
	plan->restart_identity = rs_restart_identity;

	resolve_tables(plan);
	load_schema_tables(plan);
	rs_tree_analyze(plan);
	rs_check_storage_columns(plan);
	rs_kept_resolve(plan);

	plan->storage = rs_storage_config_load(s);
	plan->uses_storage = plan->storage != NULL && plan->storage->prefixes != NIL;
	foreach(lc, rs_plan_key_tables(plan, RS_ACTION_DELETE))
		if (((RsTable *) lfirst(lc))->storage_columns != NIL)
			plan->uses_storage = true;
	/* kept rows deleted through a generic reference may hold keys too */
	foreach(lc, plan->generics)
	{
		RsTable    *kept = rs_plan_find_preserve(plan, ((RsGeneric *) lfirst(lc))->reg->relid);

		if (kept != NULL && kept->relid == ((RsGeneric *) lfirst(lc))->reg->relid &&
			kept->storage_columns != NIL)
			plan->uses_storage = true;
	}
	rs_plan_compute_token(plan);
}

/*
 * rs_plan_load: configuration, target, environment, structure and token;
 * no row counts yet.  With lock_unlock, the unlock in force (if any) is
 * locked for the reset that will consume it.  Must be called inside an
 * SPI connection.
 */
RsPlan *
rs_plan_load(RsSession *s, bool lock_unlock)
{
	RsPlan	   *plan = palloc0(sizeof(RsPlan));

	plan->database = get_database_name(MyDatabaseId);
	plan->system_identifier = GetSystemIdentifier();
	plan->environment = pstrdup(rs_environment ? rs_environment : RS_ENV_UNSET);
	rs_env_status(s, &plan->env, lock_unlock);
	plan->mode = rs_mode_name(rs_mode);
	describe_server(plan);
	rs_plan_resolve(s, plan);
	return plan;
}

/*
 * rs_oid_array: a List of OIDs as an oid[] datum.
 */
Datum
rs_oid_array(List *oids)
{
	int			n = list_length(oids);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	int			i = 0;
	ListCell   *lc;

	foreach(lc, oids)
		elems[i++] = ObjectIdGetDatum(lfirst_oid(lc));
	return PointerGetDatum(construct_array(elems, n, OIDOID, sizeof(Oid),
										   true, TYPALIGN_INT));
}

/*
 * analyze_foreign_keys: the foreign keys among deleted tables become
 * edges that order the DELETE path.  Foreign keys into a deleted table
 * from a table the reset keeps are plan_kept.c's (rs_kept_resolve): the
 * reset changes the kept rows first, or the plan is blocked.
 */
static void
analyze_foreign_keys(RsPlan *plan)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];
	int			n;

	if (plan->effective_delete == NIL)
		return;
	values[0] = rs_oid_array(plan->effective_delete);
	n = rs_spi("SELECT c.conrelid, c.confrelid"
			   " FROM pg_catalog.pg_constraint c"
			   " WHERE c.contype OPERATOR(pg_catalog.=) 'f'"
			   "   AND c.conparentid OPERATOR(pg_catalog.=) 0"
			   "   AND c.confrelid OPERATOR(pg_catalog.=) ANY ($1)"
			   "   AND c.conrelid OPERATOR(pg_catalog.=) ANY ($1)"
			   " ORDER BY c.conrelid, c.conname",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);

	for (int i = 0; i < n; i++)
	{
		RsTable    *from_t = rs_plan_find_delete(plan, rs_spi_oid(i, 0));
		RsTable    *to_t = rs_plan_find_delete(plan, rs_spi_oid(i, 1));

		if (from_t != NULL && to_t != NULL && from_t != to_t)
		{
			RsFkEdge   *e = palloc(sizeof(RsFkEdge));

			e->referencing = from_t;
			e->referenced = to_t;
			plan->edges = lappend(plan->edges, e);
		}
	}
}

/*
 * warn_unregistered: tables in the schemas of registered tables that are
 * neither deleted nor preserved.  A table added by a later migration must
 * never be skipped silently.  Partitions and inheritance children of
 * registered tables are in their parent's tree; other partitions are
 * reset (or not) with their partitioned table, which is warned about.
 */
static void
warn_unregistered(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->schema_tables)
	{
		RsSchemaTable *st = (RsSchemaTable *) lfirst(lc);

		if (st->partition ||
			rs_plan_deletes(plan, st->relid) ||
			rs_plan_preserves(plan, st->relid))
			continue;
		rs_plan_add_warning(plan,
							"table \"%s\" is neither deleted nor preserved, so a reset leaves its rows in place; "
							"register it with SELECT reset_register_table(%s, 'delete'); or 'preserve'",
							st->name, quote_literal_cstr(st->qname));
	}
}

/*
 * load_table_traits: triggers, rules and row security of the deleted
 * tables.  strategy.c uses them to pick TRUNCATE or DELETE; the plan warns
 * when a TRUNCATE would skip row-level DELETE triggers.
 */
static void
load_table_traits(RsPlan *plan)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];
	ListCell   *lc;
	int			n;

	if (plan->effective_delete == NIL)
		return;

	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		foreach(lc2, t->descendants)
		{
			HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(lfirst_oid(lc2)));

			if (!HeapTupleIsValid(tup))
				continue;
			if (((Form_pg_class) GETSTRUCT(tup))->relhasrules)
				t->has_rules = true;
			if (((Form_pg_class) GETSTRUCT(tup))->relrowsecurity)
				t->has_rls = true;
			ReleaseSysCache(tup);
		}
	}

	values[0] = rs_oid_array(plan->effective_delete);
	/* tgtype bits: 1 = ROW, 8 = DELETE (see catalog/pg_trigger.h) */
	n = rs_spi("SELECT tgrelid, pg_catalog.bool_or((tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 9)"
			   "   OPERATOR(pg_catalog.=) 9 AND tgenabled OPERATOR(pg_catalog.<>) 'D')"
			   " FROM pg_catalog.pg_trigger"
			   " WHERE NOT tgisinternal AND tgrelid OPERATOR(pg_catalog.=) ANY ($1)"
			   " GROUP BY tgrelid ORDER BY tgrelid",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		RsTable    *t = rs_plan_find_delete(plan, rs_spi_oid(i, 0));

		if (t == NULL)
			continue;
		if (!t->has_user_triggers && rs_spi_bool(i, 1) && rs_mode == RS_MODE_TRUNCATE)
			rs_plan_add_warning(plan,
								"table \"%s\" has row-level DELETE triggers, which TRUNCATE does not fire; "
								"SET reset_system.mode = 'delete' to fire them",
								t->name);
		t->has_user_triggers = true;
	}
}

/*
 * analyze_storage: a reset that would queue storage purges needs a usable
 * storage configuration, or the files of deleted rows would be orphaned.
 */
static void
analyze_storage(RsPlan *plan)
{
	RsStorageConfig *st = plan->storage;

	if (!plan->uses_storage)
		return;
	if (st == NULL || st->backend == NULL)
	{
		StringInfoData without;
		ListCell   *lc;
		RsBlocker  *b;

		/* the registrations that no longer name storage columns */
		initStringInfo(&without);
		foreach(lc, rs_plan_key_tables(plan, RS_ACTION_DELETE))
		{
			RsTable    *t = (RsTable *) lfirst(lc);

			if (t->storage_columns != NIL)
				appendStringInfo(&without, "%s%s", without.len ? " " : "",
								 rs_register_table_call(t->relid, t->action, t->label, NIL));
		}
		if (st != NULL && st->prefixes != NIL)
			foreach(lc, st->prefixes)
				appendStringInfo(&without, "%sSELECT reset_unregister_prefix(%s);",
								 without.len ? " " : "", quote_literal_cstr((char *) lfirst(lc)));
		b = rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
								pstrdup("storage columns or prefixes are registered, but no storage backend is configured"),
								pstrdup("The files of deleted rows would be left behind in storage."),
								psprintf("Configure it as a superuser, for example: "
										 "SELECT reset_configure_storage('file', '{\"root\": \"/srv/app/media\"}'); "
										 "(with the directory or bucket the files are in), or stop purging files: %s",
										 without.data));
		rs_blocker_fix(b, without.data);
	}
	else if (st->driver == NULL)
		rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
										   psprintf("storage backend \"%s\" is not known to this version of reset_system", st->backend),
										   NULL,
										   psprintf("Configure one of the available backends (%s) as a superuser with reset_configure_storage(), "
													"or remove the configuration: SELECT reset_configure_storage('none');",
													rs_storage_driver_names())),
					   pstrdup("SELECT reset_configure_storage('none');"));
	else if (st->foreign)
	{
		char	   *confirm = psprintf("SELECT reset_configure_storage(%s, %s);",
									   quote_literal_cstr(st->backend), quote_literal_cstr(st->options));

		rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
										   pstrdup("the storage configuration was made on another server or in another database"),
										   pstrdup("This database looks like a restored copy; its storage configuration may point at another deployment's files."),
										   psprintf("Check the location (%s), then confirm it as a superuser: %s",
													st->location, confirm)),
					   confirm);
	}
}

/*
 * warn_lock_holders: sessions that hold locks on registered tables now.
 * A reset would wait for them (up to reset_system.lock_timeout) or, with
 * reset_system.terminate_blockers, end them.
 */
static void
warn_lock_holders(RsPlan *plan)
{
	List	   *relids = list_copy(plan->effective_delete);
	Oid			argtypes[2] = {OIDARRAYOID, OIDOID};
	Datum		values[2];
	int			n;

	if (relids == NIL)
		return;
	values[0] = rs_oid_array(relids);
	values[1] = ObjectIdGetDatum(MyDatabaseId);
	n = rs_spi("SELECT l.pid, a.usename::pg_catalog.text, a.application_name, a.state,"
			   " pg_catalog.date_trunc('second', pg_catalog.clock_timestamp()"
			   "   OPERATOR(pg_catalog.-) a.xact_start)::pg_catalog.text,"
			   " pg_catalog.string_agg(DISTINCT l.mode, ', '),"
			   " pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'"
			   "   OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname), ', ')"
			   " FROM pg_catalog.pg_locks l"
			   " JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) l.relation"
			   " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
			   " LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid OPERATOR(pg_catalog.=) l.pid"
			   " WHERE l.locktype OPERATOR(pg_catalog.=) 'relation'"
			   "   AND l.database OPERATOR(pg_catalog.=) $2"
			   "   AND l.relation OPERATOR(pg_catalog.=) ANY ($1)"
			   "   AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid()"
			   " GROUP BY 1, 2, 3, 4, 5 ORDER BY 1",
			   2, argtypes, values, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		char	   *pid = rs_spi_isnull(i, 0) ? pstrdup("(a prepared transaction)") : rs_spi_text(i, 0);

		rs_plan_add_warning(plan,
							"session pid %s (user \"%s\", application \"%s\", %s%s%s) holds %s on %s; "
							"a reset %s",
							pid,
							rs_spi_text(i, 1) ? rs_spi_text(i, 1) : "?",
							(rs_spi_text(i, 2) && rs_spi_text(i, 2)[0]) ? rs_spi_text(i, 2) : "-",
							rs_spi_text(i, 3) ? rs_spi_text(i, 3) : "state not visible",
							rs_spi_text(i, 4) ? ", transaction open for " : "",
							rs_spi_text(i, 4) ? rs_spi_text(i, 4) : "",
							rs_spi_text(i, 5), rs_spi_text(i, 6),
							rs_terminate_blockers
							? psprintf("would terminate it after waiting %d ms (reset_system.terminate_blockers is on)",
									   rs_lock_timeout_ms)
							: psprintf("waits at most %d ms for it, then fails (reset_system.lock_timeout)",
									   rs_lock_timeout_ms));
	}
}

/*
 * nothing_registered: the blocker of a plan with nothing to do.  Its fix
 * registers the schema that holds the most tables (every table of it for
 * deletion, its migration history kept): the next plan lists all of them
 * for the operator to read before anything can run.
 */
static void
nothing_registered(RsPlan *plan)
{
	RsBlocker  *b;
	char	   *call = NULL;

	if (rs_spi("SELECT n.nspname::pg_catalog.text FROM pg_catalog.pg_class c"
			   " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
			   " WHERE c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r','p']::pg_catalog.\"char\"[])"
			   "   AND NOT c.relispartition AND c.relpersistence OPERATOR(pg_catalog.<>) 't'"
			   "   AND n.nspname OPERATOR(pg_catalog.<>) ALL (ARRAY['pg_catalog', 'information_schema', 'pg_toast', 'reset_system'])"
			   "   AND n.nspname::pg_catalog.text NOT LIKE 'pg\\_%'"
			   "   AND n.nspname::pg_catalog.text NOT LIKE 'reset\\_backup\\_%'"
			   "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
			   "        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
			   "          AND d.objid OPERATOR(pg_catalog.=) c.oid AND d.deptype OPERATOR(pg_catalog.=) 'e')"
			   " GROUP BY 1 ORDER BY pg_catalog.count(*) DESC, 1 LIMIT 1",
			   0, NULL, NULL, NULL, true, SPI_OK_SELECT) > 0)
		call = psprintf("SELECT * FROM reset_register_schema(%s);", quote_literal_cstr(rs_spi_text(0, 0)));
	b = rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							pstrdup("nothing is registered for deletion"),
							pstrdup("A reset deletes the rows of registered tables and runs registered rebuild steps; there are none."),
							call
							? psprintf("Register the tables of the application, for example every table of its schema "
									   "(the tables to keep go in except_tables; migration histories are kept anyway): %s "
									   "or one by one with reset_register_table().", call)
							: pstrdup("Register tables with reset_register_table() or reset_register_schema()."));
	if (call)
		rs_blocker_fix(b, call);
}

/*
 * rs_plan_analyze: blockers and warnings that depend on the catalogs.
 */
void
rs_plan_analyze(RsPlan *plan)
{
	if (RecoveryInProgress())
		rs_plan_add_blocker(plan, ERRCODE_READ_ONLY_SQL_TRANSACTION,
							pstrdup("this server is a hot standby"),
							NULL,
							pstrdup("Run the reset on the primary server."));
	else if (XactReadOnly)
		rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_READ_ONLY_SQL_TRANSACTION,
										   pstrdup("the current transaction is read-only"),
										   NULL,
										   pstrdup("Run the reset in a read-write transaction: "
												   "SET default_transaction_read_only = off; "
												   "(then BEGIN READ WRITE; for an explicit transaction)")),
					   pstrdup("SET default_transaction_read_only = off;"));
	if (plan->delete_tables == NIL && plan->cfg->rebuilds == NIL)
		nothing_registered(plan);

	/*
	 * What the catalogs say about the tables a reset empties and keeps:
	 * blockers and warnings.  (The trees of partitions and children, the
	 * storage columns and the renamed tables were checked when the plan
	 * was resolved; per-table actions on kept rows and further blockers
	 * belong here.)
	 */
	analyze_foreign_keys(plan);
	rs_kept_analyze(plan);
	rs_generic_analyze(plan);
	load_table_traits(plan);
	warn_unregistered(plan);
	analyze_storage(plan);
	rs_check_rebuild_roles(plan);
	rs_check_registrants(plan);
	rs_check_migration_tables(plan);
	rs_plan_check_lock_capacity(plan);
	if (!plan->under_locks)
		warn_lock_holders(plan);
}

/*
 * rs_plan_guard_blockers: the guards that refuse a reset whatever the
 * tables: the kill switch, the environment, the size guard (once rows
 * are counted).  reset_execute raises the same refusals one by one.
 */
void
rs_plan_guard_blockers(RsPlan *plan)
{
	int			sqlstate;
	char	   *message;
	char	   *detail;
	char	   *hint;

	if (!rs_allow_reset)
		rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_RS_DISABLED,
										   pstrdup("resets are disabled on this server (reset_system.allow_reset is off)"),
										   NULL,
										   pstrdup("A superuser can allow them again: LOAD 'reset_system'; ALTER SYSTEM SET reset_system.allow_reset = on; SELECT pg_reload_conf();")),
					   pstrdup("LOAD 'reset_system'; ALTER SYSTEM SET reset_system.allow_reset = on; SELECT pg_reload_conf();"));
	if (rs_env_blocker(&plan->env, &sqlstate, &message, &detail, &hint))
	{
		RsBlocker  *b = rs_plan_add_blocker(plan, sqlstate, message, detail, hint);

		/* the statements the hint names */
		if (!plan->env.labelled)
			rs_blocker_fix(b, psprintf("ALTER DATABASE %s SET reset_system.environment = 'staging';",
									   quote_identifier(plan->database)));
		else
			rs_blocker_fix(b, pstrdup("SELECT reset_unlock('15 minutes');"));
	}
	if (plan->counted && rs_max_rows > 0 && plan->delete_rows > rs_max_rows)
	{
		char	   *raise = psprintf("SET LOCAL reset_system.max_rows = " INT64_FORMAT ";",
									 plan->delete_rows);

		rs_blocker_fix(rs_plan_add_blocker(plan, ERRCODE_RS_TOO_MANY_ROWS,
										   psprintf("the reset would delete %s row(s), more than reset_system.max_rows (%s)",
													rs_format_count(plan->delete_rows), rs_format_count(rs_max_rows)),
										   NULL,
										   psprintf("To go ahead, raise the limit for the reset's transaction: "
													"BEGIN; %s "
													"SELECT reset_execute('%s', '%s'); COMMIT;",
													raise, RS_CONFIRM_PHRASE, plan->token)),
					   raise);
	}
}

/*
 * rs_plan_estimate: like rs_plan_count, from the statistics: a plan of a
 * huge database in milliseconds, clearly marked as estimates.  A reset
 * always counts exactly (under its locks, for the size guard).
 */
void
rs_plan_estimate(RsPlan *plan)
{
	ListCell   *lc;

	rs_tree_count(plan->delete_tables, true);
	rs_tree_count(plan->preserve_tables, true);
	plan->delete_rows = 0;
	plan->preserve_rows = 0;
	plan->purge_objects = 0;
	foreach(lc, plan->delete_tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		plan->delete_rows += t->rows;
		if (t->storage_columns != NIL)
			plan->purge_objects += t->rows * list_length(t->storage_columns);
	}
	foreach(lc, plan->preserve_tables)
		plan->preserve_rows += ((RsTable *) lfirst(lc))->rows;
	/* the kept rows a reset changes are always counted exactly */
	rs_kept_count(plan);
	rs_generic_count(plan);
	plan->estimate = true;
	plan->counted = true;
}

/*
 * rs_plan_count: exact row counts of every relation the reset empties or
 * keeps, partitions and children one by one.  Reading the tables needs
 * SELECT on them: a role without it gets the server's own "permission
 * denied for table ..." error.
 */
void
rs_plan_count(RsPlan *plan)
{
	ListCell   *lc;

	rs_tree_count(plan->delete_tables, false);
	rs_tree_count(plan->preserve_tables, false);
	plan->delete_rows = 0;
	plan->preserve_rows = 0;
	foreach(lc, plan->delete_tables)
		plan->delete_rows += ((RsTable *) lfirst(lc))->rows;
	foreach(lc, plan->preserve_tables)
		plan->preserve_rows += ((RsTable *) lfirst(lc))->rows;
	plan->purge_objects = plan->uses_storage ? rs_queue_plan_count(plan) : 0;
	rs_kept_count(plan);
	rs_generic_count(plan);
	plan->counted = true;
}
