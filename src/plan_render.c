/*-------------------------------------------------------------------------
 *
 * plan_render.c
 *	  reset_plan() and reset_plan_json(): the dry-run plan as text for a
 *	  human in psql and as jsonb for scripts.  Neither changes anything.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/timestamp.h"

#include "kept_run.h"
#include "plan.h"
#include "render.h"
#include "backup.h"
#include "reset_system.h"
#include "storage_check.h"
#include "strategy.h"

PG_FUNCTION_INFO_V1(reset_plan);
PG_FUNCTION_INFO_V1(reset_plan_json);

/* How long a plan waits for a live storage check it starts */
#define RS_PLAN_CHECK_TIMEOUT_MS 5000

/*
 * check_storage: the live storage check for the plan, reused from the
 * last one when recent enough (reset_system.storage_check_cache), so that
 * a plan stays fast; without may_probe only a recent result is used (a
 * reset never waits for a probe under its locks).  A failed check becomes
 * a warning.
 */
static void
check_storage(RsSession *s, RsPlan *plan, bool may_probe)
{
	RsStorageConfig *st = plan->storage;
	char	   *key;
	ListCell   *lc;

	if (rs_storage_check_cache_ms < 0 || st == NULL || st->backend == NULL ||
		st->driver == NULL || st->foreign)
		return;
	key = rs_storage_check_key(st, plan->token);
	if (rs_storage_check_cache_ms > 0)
		plan->storage_checks = rs_storage_check_cached(s, key, rs_storage_check_cache_ms,
													   &plan->storage_checked_at);
	plan->storage_check_cached = plan->storage_checks != NIL;
	if (plan->storage_checks == NIL && may_probe)
		plan->storage_checks = rs_storage_check_run(st, key, Min(rs_storage_timeout_ms, RS_PLAN_CHECK_TIMEOUT_MS),
													&plan->storage_checked_at,
													&plan->storage_check_error);
	if (plan->storage_check_error)
		rs_plan_add_warning(plan, "the live storage check could not run: %s", plan->storage_check_error);
	foreach(lc, plan->storage_checks)
	{
		RsCheck    *c = (RsCheck *) lfirst(lc);

		if (!c->ok)
			rs_plan_add_warning(plan, "storage check \"%s\" failed: %s; the purge after commit would fail and retry "
								"(SELECT * FROM reset_storage_check(); shows the details)",
								c->name, c->detail);
	}
}

/*
 * rs_plan_warn_more: the warnings that do not come from the catalogs:
 * the storage check, and a backup whose files the purge would not wait
 * for.  reset_execute repeats them with the others (from a recent storage
 * check only: it never probes under its locks).
 */
void
rs_plan_warn_more(RsSession *s, RsPlan *plan, bool backup, bool may_probe)
{
	check_storage(s, plan, may_probe);
	if (backup && plan->uses_storage && rs_purge_delay_s == 0)
		rs_plan_add_warning(plan, "a backup is taken but reset_system.purge_delay is 0: the files of deleted rows are purged "
							"right after commit, so a restore would bring back rows whose files are gone; "
							"SET reset_system.purge_delay = '1h' keeps them for an hour");
}

/*
 * build_plan: load, analyze and count, inside the caller's SPI connection.
 */
static RsPlan *
build_plan(RsSession *s, bool estimate)
{
	RsPlan	   *plan = rs_plan_load(s, false);

	rs_plan_analyze(plan);
	if (estimate)
		rs_plan_estimate(plan);
	else
		rs_plan_count(plan);
	/* how each table would be emptied, for what that requires */
	rs_strategy_decide(plan);
	rs_kept_check_owners(plan);
	rs_plan_guard_blockers(plan);
	rs_plan_warn_more(s, plan, rs_backup_default, true);
	return plan;
}

/* Labels wider than this go on a line of their own */
#define RS_LABEL_WRAP 40

/* One line of a table list: count, label, name */
typedef struct PlanLine
{
	char	   *count;
	char	   *label;
	char	   *name;
} PlanLine;

/*
 * plan_line: a PlanLine.
 */
static PlanLine *
plan_line(int64 rows, bool estimated, char *label, char *name)
{
	PlanLine   *l = palloc(sizeof(PlanLine));

	l->count = psprintf("%s%s", estimated ? "~" : "", rs_format_count(rows));
	l->label = label;
	l->name = name;
	return l;
}

/*
 * append_tables: one line per table and per relation in its tree (a
 * partition or child, indented by depth under its parent, with the rows
 * in it and below it): count, label, name.  Columns are aligned by
 * display width; a label wider than RS_LABEL_WRAP columns is printed
 * alone and its name goes on the next line, in the name column.
 */
static void
append_tables(StringInfo buf, List *tables)
{
	List	   *lines = NIL;
	int			label_w = 0;
	int			count_w = 0;
	ListCell   *lc;

	foreach(lc, tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		lines = lappend(lines, plan_line(t->rows, t->estimated, t->label, t->qname));
		foreach(lc2, t->members)
		{
			RsMember   *m = (RsMember *) lfirst(lc2);

			lines = lappend(lines,
							plan_line(m->rows, m->estimated,
									  psprintf("%*s%s", 2 * m->depth, "",
											   m->registered ? m->registered->label
											   : m->partition ? "partition" : "child"),
									  m->qname));
		}
	}
	foreach(lc, lines)
	{
		PlanLine   *l = (PlanLine *) lfirst(lc);
		int			w = rs_display_width(l->label);

		count_w = Max(count_w, (int) strlen(l->count));
		if (w <= RS_LABEL_WRAP)
			label_w = Max(label_w, w);
	}
	foreach(lc, lines)
	{
		PlanLine   *l = (PlanLine *) lfirst(lc);

		appendStringInfo(buf, "  %*s  ", count_w, l->count);
		if (rs_display_width(l->label) > label_w)
			appendStringInfo(buf, "%s\n%*s", l->label, 2 + count_w + 2 + label_w, "");
		else
			rs_append_padded(buf, l->label, label_w);
		appendStringInfo(buf, "  %s\n", l->name);
	}
}

/*
 * tables_heading: "Will DELETE 303 row(s) in 2 table(s):", naming the
 * partitions and children in their trees when there are any.
 */
static void
tables_heading(StringInfo buf, const char *verb, RsPlan *plan, int64 rows, List *tables)
{
	int			members = rs_tree_member_count(tables);

	appendStringInfo(buf, "Will %s %s%s row(s) in %d table(s)", verb,
					 plan->estimate ? "~" : "", rs_format_count(rows), list_length(tables));
	if (members > 0)
		appendStringInfo(buf, " and the %d partition(s) or child table(s) below them", members);
	appendStringInfoString(buf, ":\n");
}

/*
 * append_purge: what the storage purge after commit will do.
 */
static void
append_purge(StringInfo buf, RsPlan *plan)
{
	RsStorageConfig *st = plan->storage;
	ListCell   *lc;

	if (!plan->uses_storage)
	{
		appendStringInfoString(buf, "Will PURGE: nothing (no storage columns or prefixes registered)\n");
		return;
	}
	if (st && st->backend && rs_purge_delay_s > 0)
		appendStringInfo(buf, "Will PURGE %s after commit (reset_system.purge_delay), from %s:\n",
						 rs_format_seconds(rs_purge_delay_s), st->location);
	else if (st && st->backend)
		appendStringInfo(buf, "Will PURGE after commit, from %s:\n", st->location);
	else
		appendStringInfoString(buf, "Will PURGE after commit (storage is not configured, see Blockers):\n");
	appendStringInfo(buf, "  up to %s object(s): keys in the storage columns of deleted rows,"
					 " except keys still referenced by preserved or rebuilt rows\n",
					 rs_format_count(plan->purge_objects));
	if (st)
		foreach(lc, st->prefixes)
			appendStringInfo(buf, "  every object under prefix \"%s\", except keys still referenced\n",
							 (char *) lfirst(lc));
}

/*
 * append_storage_check: the live check of the configured storage.
 */
static void
append_storage_check(StringInfo buf, RsPlan *plan)
{
	ListCell   *lc;
	int			w = 0;

	if (plan->storage_checks == NIL)
		return;
	appendStringInfo(buf, "Storage check%s:\n",
					 plan->storage_check_cached ? " (recent result, reset_system.storage_check_cache)" : "");
	foreach(lc, plan->storage_checks)
		w = Max(w, (int) strlen(((RsCheck *) lfirst(lc))->name));
	foreach(lc, plan->storage_checks)
	{
		RsCheck    *c = (RsCheck *) lfirst(lc);

		appendStringInfo(buf, "  %-6s  %-*s  %s\n", c->ok ? "ok" : "FAILED", w, c->name, c->detail);
	}
}

/*
 * append_steps: the steps of one phase, numbered, with their role.
 */
static void
append_steps(StringInfo buf, RsPlan *plan, bool before)
{
	ListCell   *lc;
	int			i = 0;

	foreach(lc, plan->cfg->rebuilds)
	{
		RsRebuild  *r = (RsRebuild *) lfirst(lc);

		if (r->before != before)
			continue;
		appendStringInfo(buf, "  %d. %s (runs as %s): %s\n", ++i, r->label,
						 quote_identifier(r->run_as), rs_one_line(r->command, 100));
	}
}

/*
 * count_steps: how many steps run in one phase.
 */
static int
count_steps(RsPlan *plan, bool before)
{
	ListCell   *lc;
	int			n = 0;

	foreach(lc, plan->cfg->rebuilds)
		if (((RsRebuild *) lfirst(lc))->before == before)
			n++;
	return n;
}

/*
 * rows_text: "5", or that the rows were not counted.
 */
static char *
rows_text(int64 rows)
{
	return rows < 0 ? pstrdup("the") : rs_format_count(rows);
}

/*
 * append_kept_changes: what the reset does, before the deletes, to kept
 * rows that point into the tables it empties.
 */
static void
append_kept_changes(StringInfo buf, RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, plan->kept_fks)
	{
		RsKeptFk   *k = (RsKeptFk *) lfirst(lc);

		if (k->action == RS_KEPT_BLOCKED)
			continue;
		appendStringInfo(buf, "Will SET %s %s in %s %s row(s) (%s)\n",
						 k->action == RS_KEPT_SET_DEFAULT ? "DEFAULT" : "NULL",
						 rs_kept_fk_column_list(k, k->set_columns), rows_text(k->rows),
						 k->preserved ? "preserved" : "unregistered",
						 k->nullify ? "registered with reset_register_nullify"
						 : k->action == RS_KEPT_SET_DEFAULT ? "ON DELETE SET DEFAULT" : "ON DELETE SET NULL");
	}
	foreach(lc, plan->generics)
	{
		RsGeneric  *g = (RsGeneric *) lfirst(lc);
		StringInfoData types;
		ListCell   *lc2;

		if (g->rows == 0)
			continue;
		initStringInfo(&types);
		foreach(lc2, g->types)
		{
			RsGenericType *ty = (RsGenericType *) lfirst(lc2);

			if (ty->emptied)
				appendStringInfo(&types, "%s%s -> %s: %s", types.len ? "; " : "", ty->shown,
								 rs_qualified_name(ty->target, true), rs_format_count(ty->rows));
		}
		appendStringInfo(buf, "Will DELETE %s %s %s row(s) that point at emptied tables (generic reference %s, %s: %s)\n",
						 rows_text(g->rows), g->preserved ? "preserved" : "unregistered", g->label,
						 g->reg->type_column, g->reg->id_column, types.data);
	}
}

/*
 * render_text: the plan as a human reads it.
 */
static char *
render_text(RsPlan *plan)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "reset_system plan (dry run: nothing was changed)\n");
	appendStringInfo(&buf, "Database:     %s @ %s\n", plan->database, plan->server);
	appendStringInfo(&buf, "Server:       system identifier " UINT64_FORMAT "%s%s%s\n",
					 plan->system_identifier,
					 plan->cluster_name ? ", cluster \"" : "",
					 plan->cluster_name ? plan->cluster_name : "",
					 plan->cluster_name ? "\"" : "");
	appendStringInfo(&buf, "Environment:  %s\n", rs_env_describe(&plan->env));
	appendStringInfo(&buf, "Mode:         %s\n", plan->mode);
	appendStringInfo(&buf, "Sequences:    %s\n", plan->restart_identity
					 ? "restart at their start value (reset_system.restart_identity)"
					 : "continue where they are (reset_system.restart_identity is off): no old id is given out again");
	if (plan->estimate)
		appendStringInfoString(&buf, "Counts:       ESTIMATES from the statistics (marked ~); the reset itself counts exactly\n");
	appendStringInfoChar(&buf, '\n');

	if (count_steps(plan, true) > 0)
	{
		appendStringInfoString(&buf, "Will RUN first, under the locks and before the deletes, in this order:\n");
		append_steps(&buf, plan, true);
	}
	if (plan->delete_tables == NIL)
		appendStringInfoString(&buf, "Will DELETE: nothing (no table is registered for deletion)\n");
	else
	{
		tables_heading(&buf, "DELETE", plan, plan->delete_rows, plan->delete_tables);
		append_tables(&buf, plan->delete_tables);
	}
	append_kept_changes(&buf, plan);

	if (plan->cfg->rebuilds == NIL)
		appendStringInfoString(&buf, "Will REBUILD: nothing (no rebuild step is registered)\n");
	else if (count_steps(plan, false) == 0)
		appendStringInfoString(&buf, "Will REBUILD: nothing (no step runs after the deletes)\n");
	else
	{
		appendStringInfoString(&buf, "Will REBUILD, after the deletes, in this order:\n");
		append_steps(&buf, plan, false);
	}

	if (plan->preserve_tables == NIL)
		appendStringInfoString(&buf, "Will PRESERVE: no table is registered for preservation\n");
	else
	{
		tables_heading(&buf, "PRESERVE", plan, plan->preserve_rows, plan->preserve_tables);
		append_tables(&buf, plan->preserve_tables);
	}

	append_purge(&buf, plan);
	append_storage_check(&buf, plan);
	if (rs_backup_default)
		appendStringInfoString(&buf, "Will BACK UP the deleted rows first, into schema reset_backup_<reset id> (reset_system.backup); "
							   "reset_restore() puts them back\n");

	if (plan->warnings == NIL)
		appendStringInfoString(&buf, "\nWarnings: none\n");
	else
	{
		appendStringInfo(&buf, "\nWarnings (%d):\n", list_length(plan->warnings));
		foreach(lc, plan->warnings)
			appendStringInfo(&buf, "  - %s\n", (char *) lfirst(lc));
	}

	if (plan->blockers == NIL)
		appendStringInfoString(&buf, "Blockers: none\n");
	else
	{
		appendStringInfo(&buf, "Blockers (%d): reset_execute refuses until they are fixed\n",
						 list_length(plan->blockers));
		foreach(lc, plan->blockers)
		{
			RsBlocker  *b = (RsBlocker *) lfirst(lc);

			appendStringInfo(&buf, "  - %s\n", b->message);
			if (b->hint)
				appendStringInfo(&buf, "    Fix: %s\n", b->hint);
		}
	}

	appendStringInfo(&buf, "Plan token:   %s\n\n", plan->token);
	if (plan->blockers == NIL)
		appendStringInfo(&buf, "Dry run: nothing was changed. To execute this plan, run: "
						 "SELECT reset_execute('%s', '%s');",
						 RS_CONFIRM_PHRASE, plan->token);
	else
		appendStringInfo(&buf, "Dry run: nothing was changed. Fix the blocker(s) above, then run: "
						 "SELECT reset_plan(); again.");
	return buf.data;
}

/*
 * json_tables: [{"table": ..., "label": ..., "rows": n, "children": [...]}, ...]
 * Names are quoted as SQL needs them ('app."Weird Name"'), so a script can
 * cast them to regclass.
 */
static void
json_tables(StringInfo buf, List *tables)
{
	ListCell   *lc;
	bool		first = true;

	appendStringInfoChar(buf, '[');
	foreach(lc, tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		appendStringInfoString(buf, first ? "{\"table\": " : ", {\"table\": ");
		escape_json(buf, t->qname);
		appendStringInfoString(buf, ", \"label\": ");
		escape_json(buf, t->label);
		appendStringInfo(buf, ", \"rows\": " INT64_FORMAT "%s, \"children\": [", t->rows,
						 t->estimated ? ", \"estimated\": true" : "");
		foreach(lc2, t->members)
		{
			RsMember   *m = (RsMember *) lfirst(lc2);

			appendStringInfoString(buf, lc2 == list_head(t->members) ? "{\"table\": " : ", {\"table\": ");
			escape_json(buf, m->qname);
			appendStringInfo(buf, ", \"kind\": \"%s\", \"parent\": ", m->partition ? "partition" : "child");
			escape_json(buf, rs_qualified_name(m->parent, true));
			appendStringInfo(buf, ", \"depth\": %d, \"rows\": " INT64_FORMAT ", \"own_rows\": " INT64_FORMAT "%s",
							 m->depth, m->rows, m->own_rows, m->estimated ? ", \"estimated\": true" : "");
			if (m->registered)
			{
				appendStringInfoString(buf, ", \"label\": ");
				escape_json(buf, m->registered->label);
			}
			appendStringInfoChar(buf, '}');
		}
		appendStringInfoString(buf, "]}");
		first = false;
	}
	appendStringInfoChar(buf, ']');
}

/*
 * json_strings: ["...", ...]
 */
static void
json_strings(StringInfo buf, List *strings)
{
	ListCell   *lc;

	appendStringInfoChar(buf, '[');
	foreach(lc, strings)
	{
		if (lc != list_head(strings))
			appendStringInfoString(buf, ", ");
		escape_json(buf, (char *) lfirst(lc));
	}
	appendStringInfoChar(buf, ']');
}

/*
 * json_kept_changes: ", "kept_changes": [...]": what the reset does to kept
 * rows that point into emptied tables: {"table", "action" ("set null",
 * "set default", "delete"), "rows", and "columns" and "constraint" and
 * "why", or "type_column", "id_column" and "types" [{"type", "table",
 * "rows"}]}.
 */
static void
json_kept_changes(StringInfo buf, RsPlan *plan)
{
	ListCell   *lc;
	bool		first = true;

	appendStringInfoString(buf, ", \"kept_changes\": [");
	foreach(lc, plan->kept_fks)
	{
		RsKeptFk   *k = (RsKeptFk *) lfirst(lc);

		if (k->action == RS_KEPT_BLOCKED)
			continue;
		appendStringInfoString(buf, first ? "{\"table\": " : ", {\"table\": ");
		escape_json(buf, k->qname);
		appendStringInfo(buf, ", \"action\": \"%s\", \"preserved\": %s, \"rows\": " INT64_FORMAT ", \"columns\": ",
						 k->action == RS_KEPT_SET_DEFAULT ? "set default" : "set null",
						 k->preserved ? "true" : "false", k->rows);
		json_strings(buf, k->set_columns);
		appendStringInfoString(buf, ", \"constraint\": ");
		escape_json(buf, k->conname);
		appendStringInfoString(buf, ", \"why\": ");
		escape_json(buf, k->nullify ? "registered with reset_register_nullify"
					: k->action == RS_KEPT_SET_DEFAULT ? "ON DELETE SET DEFAULT" : "ON DELETE SET NULL");
		appendStringInfoChar(buf, '}');
		first = false;
	}
	foreach(lc, plan->generics)
	{
		RsGeneric  *g = (RsGeneric *) lfirst(lc);
		ListCell   *lc2;
		bool		tfirst = true;

		appendStringInfoString(buf, first ? "{\"table\": " : ", {\"table\": ");
		escape_json(buf, g->qname);
		appendStringInfo(buf, ", \"action\": \"delete\", \"preserved\": %s, \"rows\": " INT64_FORMAT ", \"type_column\": ",
						 g->preserved ? "true" : "false", g->rows);
		escape_json(buf, g->reg->type_column);
		appendStringInfoString(buf, ", \"id_column\": ");
		escape_json(buf, g->reg->id_column);
		appendStringInfoString(buf, ", \"types\": [");
		foreach(lc2, g->types)
		{
			RsGenericType *ty = (RsGenericType *) lfirst(lc2);

			appendStringInfoString(buf, tfirst ? "{\"type\": " : ", {\"type\": ");
			escape_json(buf, ty->value);
			appendStringInfoString(buf, ", \"table\": ");
			if (OidIsValid(ty->target))
				escape_json(buf, rs_qualified_name(ty->target, true));
			else
				appendStringInfoString(buf, "null");
			appendStringInfo(buf, ", \"emptied\": %s, \"rows\": " INT64_FORMAT "}",
							 ty->emptied ? "true" : "false", ty->rows);
			tfirst = false;
		}
		appendStringInfoString(buf, "]}");
		first = false;
	}
	appendStringInfoChar(buf, ']');
}

/*
 * render_json: the plan as a JSON document (text, parsed to jsonb by the
 * caller).
 */
static char *
render_json(RsPlan *plan)
{
	StringInfoData buf;
	ListCell   *lc;
	List	   *blockers = NIL;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"database\": ");
	escape_json(&buf, plan->database);
	appendStringInfoString(&buf, ", \"server\": ");
	escape_json(&buf, plan->server);
	appendStringInfo(&buf, ", \"system_identifier\": \"" UINT64_FORMAT "\"",
					 plan->system_identifier);
	appendStringInfoString(&buf, ", \"cluster_name\": ");
	if (plan->cluster_name)
		escape_json(&buf, plan->cluster_name);
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoString(&buf, ", \"environment\": ");
	escape_json(&buf, plan->environment);
	appendStringInfo(&buf, ", \"environment_labelled\": %s, \"environment_protected\": %s, \"unlocked_until\": ",
					 plan->env.labelled ? "true" : "false",
					 plan->env.protected ? "true" : "false");
	if (plan->env.unlock_id != 0)
		escape_json(&buf, timestamptz_to_str(plan->env.unlocked_until));
	else
		appendStringInfoString(&buf, "null");
	appendStringInfoString(&buf, ", \"mode\": ");
	escape_json(&buf, plan->mode);

	appendStringInfoString(&buf, ", \"delete\": ");
	json_tables(&buf, plan->delete_tables);
	appendStringInfo(&buf, ", \"estimate\": %s", plan->estimate ? "true" : "false");
	appendStringInfo(&buf, ", \"delete_rows\": " INT64_FORMAT, plan->delete_rows);
	appendStringInfoString(&buf, ", \"preserve\": ");
	json_tables(&buf, plan->preserve_tables);
	appendStringInfo(&buf, ", \"preserve_rows\": " INT64_FORMAT, plan->preserve_rows);

	appendStringInfoString(&buf, ", \"rebuild\": [");
	foreach(lc, plan->cfg->rebuilds)
	{
		RsRebuild  *r = (RsRebuild *) lfirst(lc);

		appendStringInfoString(&buf, first ? "{\"label\": " : ", {\"label\": ");
		escape_json(&buf, r->label);
		appendStringInfoString(&buf, ", \"command\": ");
		escape_json(&buf, r->command);
		appendStringInfoString(&buf, ", \"run_as\": ");
		escape_json(&buf, r->run_as);
		appendStringInfo(&buf, ", \"phase\": \"%s\"}", r->before ? "before" : "after");
		first = false;
	}
	appendStringInfoChar(&buf, ']');
	appendStringInfo(&buf, ", \"restart_identity\": %s", plan->restart_identity ? "true" : "false");
	json_kept_changes(&buf, plan);

	appendStringInfoString(&buf, ", \"purge\": ");
	if (!plan->uses_storage)
		appendStringInfoString(&buf, "null");
	else
	{
		appendStringInfoString(&buf, "{\"backend\": ");
		if (plan->storage && plan->storage->backend)
			escape_json(&buf, plan->storage->backend);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ", \"location\": ");
		if (plan->storage && plan->storage->backend)
			escape_json(&buf, plan->storage->location);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfo(&buf, ", \"objects\": " INT64_FORMAT ", \"prefixes\": ",
						 plan->purge_objects);
		json_strings(&buf, plan->storage ? plan->storage->prefixes : NIL);
		appendStringInfoChar(&buf, '}');
	}

	appendStringInfo(&buf, ", \"backup\": %s, \"purge_delay_seconds\": %d",
					 rs_backup_default ? "true" : "false", rs_purge_delay_s);
	appendStringInfoString(&buf, ", \"storage_check\": ");
	if (plan->storage_checks == NIL)
		appendStringInfoString(&buf, "null");
	else
	{
		appendStringInfoString(&buf, "{\"checked_at\": ");
		escape_json(&buf, timestamptz_to_str(plan->storage_checked_at));
		appendStringInfo(&buf, ", \"cached\": %s, \"checks\": [",
						 plan->storage_check_cached ? "true" : "false");
		foreach(lc, plan->storage_checks)
		{
			RsCheck    *c = (RsCheck *) lfirst(lc);

			appendStringInfoString(&buf, lc == list_head(plan->storage_checks) ? "{\"check\": " : ", {\"check\": ");
			escape_json(&buf, c->name);
			appendStringInfo(&buf, ", \"ok\": %s, \"detail\": ", c->ok ? "true" : "false");
			escape_json(&buf, c->detail);
			appendStringInfoChar(&buf, '}');
		}
		appendStringInfoString(&buf, "]}");
	}

	appendStringInfoString(&buf, ", \"warnings\": ");
	json_strings(&buf, plan->warnings);
	foreach(lc, plan->blockers)
	{
		RsBlocker  *b = (RsBlocker *) lfirst(lc);

		blockers = lappend(blockers, b->hint
						   ? psprintf("%s. %s", b->message, b->hint)
						   : b->message);
	}
	appendStringInfoString(&buf, ", \"blockers\": ");
	json_strings(&buf, blockers);
	appendStringInfoString(&buf, ", \"blocker_details\": [");
	foreach(lc, plan->blockers)
	{
		RsBlocker  *b = (RsBlocker *) lfirst(lc);

		appendStringInfoString(&buf, lc == list_head(plan->blockers) ? "{\"sqlstate\": " : ", {\"sqlstate\": ");
		escape_json(&buf, unpack_sql_state(b->sqlstate));
		appendStringInfoString(&buf, ", \"message\": ");
		escape_json(&buf, b->message);
		appendStringInfoString(&buf, ", \"detail\": ");
		if (b->detail)
			escape_json(&buf, b->detail);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ", \"hint\": ");
		if (b->hint)
			escape_json(&buf, b->hint);
		else
			appendStringInfoString(&buf, "null");
		appendStringInfoString(&buf, ", \"fixes\": ");
		json_strings(&buf, b->fixes);
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	appendStringInfoString(&buf, ", \"token\": ");
	escape_json(&buf, plan->token);
	appendStringInfoString(&buf, ", \"execute\": ");
	escape_json(&buf, plan->blockers
				? "" : psprintf("SELECT reset_execute('%s', '%s');",
								RS_CONFIRM_PHRASE, plan->token));
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * reset_plan(): the dry-run plan as text.
 */
Datum
reset_plan(PG_FUNCTION_ARGS)
{
	RsSession	s;
	char	   *out;

	rs_enter(&s);
	SPI_connect();
	out = rs_copy_out(render_text(build_plan(&s, PG_NARGS() > 0 && !PG_ARGISNULL(0) && PG_GETARG_BOOL(0))));
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/*
 * reset_plan_json(): the dry-run plan as jsonb.
 */
Datum
reset_plan_json(PG_FUNCTION_ARGS)
{
	RsSession	s;
	char	   *out;

	rs_enter(&s);
	SPI_connect();
	out = rs_copy_out(render_json(build_plan(&s, PG_NARGS() > 0 && !PG_ARGISNULL(0) && PG_GETARG_BOOL(0))));
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(out)));
}
