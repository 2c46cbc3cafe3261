/*-------------------------------------------------------------------------
 *
 * plan.c
 *	  Build a reset plan: resolve the registered tables, find what blocks a
 *	  reset (foreign keys into deleted tables, stale registrations), warn
 *	  about tables nobody registered, count rows exactly, and compute the
 *	  plan token.
 *
 * reset_plan() and reset_execute() share this code: execute builds the
 * same plan again under its locks and refuses on any blocker, so what the
 * operator read is what runs.
 *
 * The plan token identifies the target (cluster system identifier and
 * database) and the configuration (tables, actions, storage columns,
 * rebuild steps), not the live row counts, so a plan reviewed on a busy
 * database stays executable while a plan taken elsewhere or before a
 * configuration change does not.
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

/* Postgres allows at most 1664 target columns; count in chunks. */
#define RS_COUNT_CHUNK 400

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
 * find_preserve: the preserved table whose inheritance tree holds relid.
 */
static RsTable *
find_preserve(RsPlan *plan, Oid relid)
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
 * register_statement: the reset_register_table() call that registers t
 * again as it is registered now, for hints.
 */
static char *
register_statement(RsTable *t)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfo(&buf, "SELECT reset_register_table(%s, '%s', %s",
					 quote_literal_cstr(t->qname), rs_action_name(t->action),
					 quote_literal_cstr(t->label));
	if (t->storage_columns != NIL)
	{
		appendStringInfoString(&buf, ", ARRAY[");
		foreach(lc, t->storage_columns)
			appendStringInfo(&buf, "%s%s", lc == list_head(t->storage_columns) ? "" : ", ",
							 quote_literal_cstr((char *) lfirst(lc)));
		appendStringInfoChar(&buf, ']');
	}
	appendStringInfoString(&buf, ");");
	return buf.data;
}

/*
 * resolve_tables: look each registration up in the catalogs, find the
 * inheritance trees, and sort the tables into the delete and preserve
 * lists.
 */
static void
resolve_tables(RsPlan *plan)
{
	ListCell   *lc;

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
		t->descendants = find_all_inheritors(t->relid, NoLock, NULL);
		if (strcmp(t->qname, t->registered_name) != 0)
		{
			t->renamed = true;
			rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
								psprintf("registered table \"%s\" is now named \"%s\"",
										 t->registered_name, t->name),
								psprintf("It was registered for %s as \"%s\" (OID %u). "
										 "A renamed table, or a dropped table whose OID was reused, "
										 "must be confirmed before a reset touches it.",
										 t->action == RS_ACTION_DELETE ? "deletion" : "preservation",
										 t->registered_name, t->relid),
								psprintf("Register it again under its new name: %s",
										 register_statement(t)));
		}
	}

	/* A registered table inside the tree of a deleted table is covered. */
	foreach(lc, plan->cfg->tables)
	{
		RsTable    *d = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		if (d->missing || d->action != RS_ACTION_DELETE)
			continue;
		foreach(lc2, plan->cfg->tables)
		{
			RsTable    *t = (RsTable *) lfirst(lc2);

			if (t != d && !t->missing && list_member_oid(d->descendants, t->relid))
				t->covered_by = d->relid;
		}
	}

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (t->missing)
			continue;
		if (t->action == RS_ACTION_PRESERVE)
		{
			if (OidIsValid(t->covered_by))
				rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
									psprintf("table \"%s\" is registered for preservation but is inside table \"%s\", which is registered for deletion",
											 t->name, rs_qualified_name(t->covered_by, false)),
									psprintf("Emptying \"%s\" empties its inheritance children and partitions, \"%s\" among them.",
											 rs_qualified_name(t->covered_by, false), t->name),
									pstrdup("Register the parent for preservation, or take the child out of its inheritance tree."));
			plan->preserve_tables = lappend(plan->preserve_tables, t);
		}
		else if (OidIsValid(t->covered_by))
			rs_plan_add_warning(plan,
								"table \"%s\" is deleted with its parent \"%s\"; its own registration adds nothing",
								t->name, rs_qualified_name(t->covered_by, false));
		else
		{
			plan->delete_tables = lappend(plan->delete_tables, t);
			plan->effective_delete = list_concat(plan->effective_delete,
												 t->descendants);
		}
	}
}

/*
 * compute_token: hash of the target and the configuration.
 */
static void
compute_token(RsPlan *plan)
{
	StringInfoData canon;
	ListCell   *lc;
	bytea	   *digest;
	unsigned char *d;

	initStringInfo(&canon);
	appendStringInfo(&canon, "reset_system plan v1\n" UINT64_FORMAT "\n%u\n%s\n",
					 plan->system_identifier, MyDatabaseId, plan->database);
	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		if (t->missing)
			continue;
		appendStringInfo(&canon, "table\t%s\t%u\t%s", t->qname, t->relid,
						 rs_action_name(t->action));
		foreach(lc2, t->storage_columns)
			appendStringInfo(&canon, "\t%s", (char *) lfirst(lc2));
		appendStringInfoChar(&canon, '\n');
	}
	foreach(lc, plan->cfg->rebuilds)
	{
		RsRebuild  *r = (RsRebuild *) lfirst(lc);

		appendStringInfo(&canon, "rebuild\t%s\t%s\n", r->label, r->command);
	}
	if (plan->storage)
	{
		appendStringInfo(&canon, "storage\t%s\t%s\n",
						 plan->storage->backend ? plan->storage->backend : "",
						 plan->storage->options ? plan->storage->options : "");
		foreach(lc, plan->storage->prefixes)
			appendStringInfo(&canon, "prefix\t%s\n", (char *) lfirst(lc));
	}

	digest = DatumGetByteaPP(OidFunctionCall1(F_SHA256,
											  PointerGetDatum(cstring_to_text_with_len(canon.data, canon.len))));
	d = (unsigned char *) VARDATA_ANY(digest);
	for (int i = 0; i < RS_TOKEN_LEN / 2; i++)
		snprintf(plan->token + 2 * i, 3, "%02x", d[i]);
}

/*
 * rs_plan_load: configuration, target, environment and token; no row
 * counts yet.  With lock_unlock, the unlock in force (if any) is locked
 * for the reset that will consume it.  Must be called inside an SPI
 * connection.
 */
RsPlan *
rs_plan_load(RsSession *s, bool lock_unlock)
{
	RsPlan	   *plan = palloc0(sizeof(RsPlan));

	plan->cfg = rs_load_config(s);
	plan->database = get_database_name(MyDatabaseId);
	plan->system_identifier = GetSystemIdentifier();
	plan->environment = pstrdup(rs_environment ? rs_environment : RS_ENV_UNSET);
	rs_env_status(s, &plan->env, lock_unlock);
	plan->mode = rs_mode_name(rs_mode);
	describe_server(plan);
	resolve_tables(plan);
	plan->storage = rs_storage_config_load(s);
	plan->uses_storage = plan->storage != NULL && plan->storage->prefixes != NIL;
	{
		ListCell   *lc;

		foreach(lc, plan->delete_tables)
			if (((RsTable *) lfirst(lc))->storage_columns != NIL)
				plan->uses_storage = true;
	}
	compute_token(plan);
	return plan;
}

/*
 * oid_array: a List of OIDs as an oid[] datum.
 */
static Datum
oid_array(List *oids)
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
 * analyze_foreign_keys: every foreign key that references a deleted table
 * must come from a deleted table too.  Otherwise TRUNCATE refuses, DELETE
 * fails or cascades into kept rows, so the plan is blocked.  Foreign keys
 * among deleted tables become edges that order the DELETE path.
 */
static void
analyze_foreign_keys(RsPlan *plan)
{
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];
	int			n;

	if (plan->effective_delete == NIL)
		return;
	values[0] = oid_array(plan->effective_delete);
	n = rs_spi("SELECT c.conname::pg_catalog.text, c.conrelid, c.confrelid,"
			   " c.confdeltype::pg_catalog.text"
			   " FROM pg_catalog.pg_constraint c"
			   " WHERE c.contype OPERATOR(pg_catalog.=) 'f'"
			   "   AND c.conparentid OPERATOR(pg_catalog.=) 0"
			   "   AND c.confrelid OPERATOR(pg_catalog.=) ANY ($1)"
			   " ORDER BY c.conrelid, c.conname",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);

	for (int i = 0; i < n; i++)
	{
		char	   *conname = rs_spi_text(i, 0);
		Oid			from = rs_spi_oid(i, 1);
		Oid			to = rs_spi_oid(i, 2);
		char	   *deltype = rs_spi_text(i, 3);
		RsTable    *from_t = rs_plan_find_delete(plan, from);
		RsTable    *to_t = rs_plan_find_delete(plan, to);
		char	   *from_name;
		char	   *to_name;
		RsTable    *kept;
		const char *ondelete;

		Assert(to_t != NULL);
		if (from_t != NULL)
		{
			if (from_t != to_t)
			{
				RsFkEdge   *e = palloc(sizeof(RsFkEdge));

				e->referencing = from_t;
				e->referenced = to_t;
				plan->edges = lappend(plan->edges, e);
			}
			continue;
		}

		from_name = rs_qualified_name(from, false);
		to_name = rs_qualified_name(to, false);
		kept = find_preserve(plan, from);
		switch (deltype[0])
		{
			case 'c':
				ondelete = " ON DELETE CASCADE would delete its rows";
				break;
			case 'n':
				ondelete = " ON DELETE SET NULL would change its rows";
				break;
			case 'd':
				ondelete = " ON DELETE SET DEFAULT would change its rows";
				break;
			default:
				ondelete = " deleting the referenced rows would fail";
				break;
		}
		rs_plan_add_blocker(plan, ERRCODE_DEPENDENT_OBJECTS_STILL_EXIST,
							psprintf("table \"%s\" has a foreign key into \"%s\", which a reset deletes",
									 from_name, to_name),
							psprintf("Constraint \"%s\" on \"%s\" references \"%s\". "
									 "\"%s\" is %s, so%s; a reset never uses CASCADE.",
									 conname, from_name, to_name, from_name,
									 kept ? "registered for preservation" : "not registered",
									 ondelete),
							kept
							? psprintf("Preserved rows cannot point at deleted ones: register \"%s\" for deletion "
									   "(SELECT reset_register_table(%s, 'delete');) or drop or change constraint \"%s\".",
									   from_name, quote_literal_cstr(rs_qualified_name(from, true)), conname)
							: psprintf("Register \"%s\" for deletion (SELECT reset_register_table(%s, 'delete');) "
									   "or drop or change constraint \"%s\".",
									   from_name, quote_literal_cstr(rs_qualified_name(from, true)), conname));
	}
}

/*
 * warn_unregistered: tables in the schemas of registered tables that are
 * neither deleted nor preserved.  A table added by a later migration must
 * never be skipped silently.  Extension member tables are not the
 * application's and are left out.
 */
static void
warn_unregistered(RsPlan *plan)
{
	List	   *schemas = NIL;
	ListCell   *lc;
	Oid			argtypes[1] = {OIDARRAYOID};
	Datum		values[1];
	int			n;

	foreach(lc, plan->cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (!t->missing)
			schemas = list_append_unique_oid(schemas, get_rel_namespace(t->relid));
	}
	if (schemas == NIL)
		return;

	values[0] = oid_array(schemas);
	n = rs_spi("SELECT c.oid, pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'"
			   "   OPERATOR(pg_catalog.||) pg_catalog.quote_ident(c.relname),"
			   " n.nspname::pg_catalog.text OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) c.relname::pg_catalog.text"
			   " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n"
			   "   ON n.oid OPERATOR(pg_catalog.=) c.relnamespace"
			   " WHERE c.relnamespace OPERATOR(pg_catalog.=) ANY ($1)"
			   "   AND c.relkind OPERATOR(pg_catalog.=) ANY (ARRAY['r','p']::pg_catalog.\"char\"[])"
			   "   AND c.relpersistence OPERATOR(pg_catalog.<>) 't'"
			   "   AND NOT c.relispartition"
			   "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d"
			   "        WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass"
			   "          AND d.objid OPERATOR(pg_catalog.=) c.oid"
			   "          AND d.deptype OPERATOR(pg_catalog.=) 'e')"
			   " ORDER BY n.nspname, c.relname",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		Oid			relid = rs_spi_oid(i, 0);
		bool		known = false;

		foreach(lc, plan->cfg->tables)
		{
			RsTable    *t = (RsTable *) lfirst(lc);

			if (!t->missing && list_member_oid(t->descendants, relid))
				known = true;
		}
		if (!known)
			rs_plan_add_warning(plan,
								"table \"%s\" is neither deleted nor preserved, so a reset leaves its rows in place; "
								"register it with SELECT reset_register_table(%s, 'delete'); or 'preserve'",
								rs_spi_text(i, 2), quote_literal_cstr(rs_spi_text(i, 1)));
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

	values[0] = oid_array(plan->effective_delete);
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
		rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							pstrdup("storage columns or prefixes are registered, but no storage backend is configured"),
							pstrdup("The files of deleted rows would be left behind in storage."),
							pstrdup("Configure it as a superuser, for example: "
									"SELECT reset_configure_storage('file', '{\"root\": \"/srv/app/media\"}'); "
									"or register the tables again without storage columns."));
	else if (st->driver == NULL)
		rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							psprintf("storage backend \"%s\" is not known to this version of reset_system", st->backend),
							NULL,
							psprintf("Available backends: %s.", rs_storage_driver_names()));
	else if (st->foreign)
		rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							pstrdup("the storage configuration was made on another server or in another database"),
							pstrdup("This database looks like a restored copy; its storage configuration may point at another deployment's files."),
							psprintf("Check the location (%s), then confirm it as a superuser: SELECT reset_configure_storage('%s', '%s');",
									 st->location, st->backend, st->options));
}

/*
 * analyze_rebuild_roles: a rebuild step runs as the role that registered
 * it; that role must still exist.
 */
static void
analyze_rebuild_roles(RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->cfg->rebuilds)
	{
		RsRebuild  *r = (RsRebuild *) lfirst(lc);

		if (!OidIsValid(get_role_oid(r->run_as, true)))
			rs_plan_add_blocker(plan, ERRCODE_UNDEFINED_OBJECT,
								psprintf("rebuild step \"%s\" runs as role \"%s\", which no longer exists",
										 r->label, r->run_as),
								pstrdup("A rebuild step runs with the privileges of the role that registered it."),
								psprintf("Register it again: SELECT reset_register_rebuild(%s, %s);",
										 quote_literal_cstr(r->label), quote_literal_cstr(r->command)));
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
	values[0] = oid_array(relids);
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
		rs_plan_add_blocker(plan, ERRCODE_READ_ONLY_SQL_TRANSACTION,
							pstrdup("the current transaction is read-only"),
							NULL,
							pstrdup("Run the reset in a read-write transaction."));
	if (plan->delete_tables == NIL && plan->cfg->rebuilds == NIL)
		rs_plan_add_blocker(plan, ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
							pstrdup("nothing is registered for deletion"),
							pstrdup("A reset deletes the rows of registered tables and runs registered rebuild steps; there are none."),
							pstrdup("Register tables with reset_register_table() or reset_register_schema()."));
	analyze_foreign_keys(plan);
	load_table_traits(plan);
	warn_unregistered(plan);
	analyze_storage(plan);
	analyze_rebuild_roles(plan);
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
		rs_plan_add_blocker(plan, ERRCODE_RS_DISABLED,
							pstrdup("resets are disabled on this server (reset_system.allow_reset is off)"),
							NULL,
							pstrdup("A superuser can allow them again: ALTER SYSTEM SET reset_system.allow_reset = on; SELECT pg_reload_conf();"));
	if (rs_env_blocker(&plan->env, &sqlstate, &message, &detail, &hint))
		rs_plan_add_blocker(plan, sqlstate, message, detail, hint);
	if (plan->counted && rs_max_rows > 0 && plan->delete_rows > rs_max_rows)
		rs_plan_add_blocker(plan, ERRCODE_RS_TOO_MANY_ROWS,
							psprintf("the reset would delete %s row(s), more than reset_system.max_rows (%s)",
									 rs_format_count(plan->delete_rows), rs_format_count(rs_max_rows)),
							NULL,
							psprintf("To go ahead, raise the limit for the reset's transaction: "
									 "BEGIN; SET LOCAL reset_system.max_rows = " INT64_FORMAT "; "
									 "SELECT reset_execute(...); COMMIT;", plan->delete_rows));
}

/*
 * count_tables: exact row counts of a list of tables, a chunk per query.
 */
static void
count_tables(List *tables)
{
	int			total = list_length(tables);

	for (int start = 0; start < total; start += RS_COUNT_CHUNK)
	{
		StringInfoData sql;
		int			end = Min(start + RS_COUNT_CHUNK, total);

		initStringInfo(&sql);
		appendStringInfoString(&sql, "SELECT ");
		for (int i = start; i < end; i++)
		{
			RsTable    *t = (RsTable *) list_nth(tables, i);

			appendStringInfo(&sql, "%s(SELECT pg_catalog.count(*) FROM %s)",
							 i > start ? ", " : "", t->qname);
		}
		rs_spi(sql.data, 0, NULL, NULL, NULL, false, SPI_OK_SELECT);
		for (int i = start; i < end; i++)
		{
			RsTable    *t = (RsTable *) list_nth(tables, i);

			t->rows = rs_spi_int64(0, i - start, 0);
		}
		SPI_freetuptable(SPI_tuptable);
	}
}

/*
 * estimate_tables: row counts from the statistics (pg_class.reltuples,
 * summed over partitions and children).  A table whose statistics were
 * never gathered is counted exactly instead.
 */
static void
estimate_tables(List *tables)
{
	ListCell   *lc;
	List	   *exact = NIL;

	foreach(lc, tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		Datum		values[1];
		Oid			argtypes[1] = {OIDARRAYOID};
		Datum	   *oids = palloc(sizeof(Datum) * Max(list_length(t->descendants), 1));
		int			n = 0;
		ListCell   *lc2;

		foreach(lc2, t->descendants)
			oids[n++] = ObjectIdGetDatum(lfirst_oid(lc2));
		if (n == 0)
			oids[n++] = ObjectIdGetDatum(t->relid);
		values[0] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
		rs_spi("SELECT pg_catalog.sum(GREATEST(reltuples, 0))::pg_catalog.int8,"
			   " pg_catalog.bool_or(reltuples OPERATOR(pg_catalog.<) 0)"
			   " FROM pg_catalog.pg_class WHERE oid OPERATOR(pg_catalog.=) ANY ($1)"
			   "   AND relkind OPERATOR(pg_catalog.<>) 'p'",
			   1, argtypes, values, NULL, true, SPI_OK_SELECT);
		if (rs_spi_bool(0, 1))
			exact = lappend(exact, t);	/* never analyzed: count it */
		else
		{
			t->rows = rs_spi_int64(0, 0, 0);
			t->estimated = true;
		}
	}
	count_tables(exact);
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

	estimate_tables(plan->delete_tables);
	estimate_tables(plan->preserve_tables);
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
	plan->estimate = true;
	plan->counted = true;
}

/*
 * rs_plan_count: exact row counts of every deleted and preserved table.
 * Reading the tables needs SELECT on them: a role without it gets the
 * server's own "permission denied for table ..." error.
 */
void
rs_plan_count(RsPlan *plan)
{
	ListCell   *lc;

	count_tables(plan->delete_tables);
	count_tables(plan->preserve_tables);
	plan->delete_rows = 0;
	plan->preserve_rows = 0;
	foreach(lc, plan->delete_tables)
		plan->delete_rows += ((RsTable *) lfirst(lc))->rows;
	foreach(lc, plan->preserve_tables)
		plan->preserve_rows += ((RsTable *) lfirst(lc))->rows;
	plan->purge_objects = plan->uses_storage ? rs_queue_plan_count(plan) : 0;
	plan->counted = true;
}
