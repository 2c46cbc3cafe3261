/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  reset_restore() and reset_restore_plan(): put back the rows a reset
 *	  deleted, from its backup, in the caller's transaction.
 *
 * The order of things mirrors reset_execute:
 *
 *	1. the phrase RESTORE-EVERYTHING, before anything else;
 *	2. the kill switch and a server and transaction that can write;
 *	3. the environment (labelled; unlocked when protected, and the unlock
 *	   is consumed);
 *	4. the backup must exist and match the configuration now: every table
 *	   still there with the same columns and still registered for
 *	   deletion (exclude leaves tables out); anything else is refused with
 *	   the list of differences;
 *	5. the caller's own privileges on every table, then the locks (bounded
 *	   wait, blockers named);
 *	6. the reset's storage purge is cancelled (what it already deleted is
 *	   counted and reported: those rows come back without their files);
 *	7. the rows there now (the rebuilt baseline, anything added since) are
 *	   deleted, referencing tables first; the backed-up rows are inserted,
 *	   referenced tables first, with the caller's rights (INSERT triggers
 *	   fire, foreign keys are checked); sequences get their old values;
 *	8. the restore is recorded in reset_system.restores; every attempt is
 *	   journaled, whatever happens to the transaction.
 *
 * Nothing commits here: a failure anywhere leaves the database as it was.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lockdefs.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"

#include "backup.h"
#include "commit_hook.h"
#include "compat.h"
#include "environment.h"
#include "guards.h"
#include "journal.h"
#include "locks.h"
#include "plan.h"
#include "render.h"
#include "reset_system.h"

PG_FUNCTION_INFO_V1(reset_restore);
PG_FUNCTION_INFO_V1(reset_restore_plan);

#define RS_RESTORE_PHRASE "RESTORE-EVERYTHING"

/* One backed-up table */
typedef struct RestoreTable
{
	char	   *name;			/* schema.table, for people */
	char	   *qname;			/* quoted, for SQL */
	char	   *backup;			/* backup table name */
	int64		rows;			/* rows in the backup */
	char	   *columns;		/* columns then (JSON) */
	bool		excluded;
	Oid			relid;			/* now; InvalidOid when gone */
	int64		rows_now;		/* -1 when not counted */
	int64		restored;
	int64		replaced;
	int			order;			/* insert order: referenced tables first */
} RestoreTable;

/* One sequence to put back */
typedef struct RestoreSeq
{
	char	   *qname;
	Oid			relid;			/* now; InvalidOid when gone */
	int64		last_value;
	bool		is_called;
} RestoreSeq;

typedef struct Restore
{
	int64		reset_id;
	char	   *schema;
	Oid			nspoid;			/* the backup's schema, checked as its own */
	char	   *taken;
	char	   *taken_by;
	int64		size;
	List	   *tables;			/* RestoreTable * */
	List	   *seqs;			/* RestoreSeq * */
	List	   *blockers;		/* char *: why it cannot be restored */
	List	   *hints;			/* char *: what to do about it */
	bool		deferred;		/* tables reference each other: defer checks */
	int64		objects_gone;	/* deleted by the purge (or missing already) */
	int64		objects_open;	/* pending or failed: will be cancelled */
	int64		uploads_done;	/* resource files the reset uploaded */
} Restore;

/*
 * blocker: a reason the restore cannot run, and what to do about it.
 */
static void
blocker(Restore *r, char *message, char *hint)
{
	r->blockers = lappend(r->blockers, message);
	r->hints = lappend(r->hints, hint);
}

/*
 * exclude_sql: the statement that restores everything but one table.
 */
static char *
exclude_sql(Restore *r, const char *name)
{
	return psprintf("SELECT reset_restore(" INT64_FORMAT ", '%s', exclude => ARRAY[%s]);",
					r->reset_id, RS_RESTORE_PHRASE, quote_literal_cstr(name));
}

/*
 * exclude_hint: how to leave a table out.
 */
static char *
exclude_hint(Restore *r, const char *name)
{
	return psprintf("Restore the other tables with %s", exclude_sql(r, name));
}

/*
 * damaged: the ERROR for a backup record that cannot be used as it is.
 * reset_system.backups is dumped and can be edited; what it says is
 * checked before anything is built from it.
 */
static rs_noreturn void
damaged(int64 reset_id, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("the backup record of reset " INT64_FORMAT " is damaged: %s", reset_id, what),
			 errdetail("reset_system.backups was edited, or restored from a damaged dump. Nothing was changed."),
			 errhint("That backup cannot be restored; drop it with SELECT reset_backup_drop(" INT64_FORMAT ");",
					 reset_id)));
}

/*
 * relation_by_qname: the relation a quoted "schema"."name" stored in a
 * backup record names (InvalidOid when it no longer exists), or false when
 * the text is not such a name.  Parsed here rather than by to_regclass,
 * whose handling of bad syntax differs between server versions.
 */
static bool
relation_by_qname(const char *qname, Oid *relid)
{
	char	   *copy = pstrdup(qname);
	List	   *parts;
	Oid			nsp;

	*relid = InvalidOid;
	if (!SplitIdentifierString(copy, '.', &parts) || list_length(parts) != 2)
		return false;
	nsp = get_namespace_oid((char *) linitial(parts), true);
	if (OidIsValid(nsp))
		*relid = get_relname_relid((char *) lsecond(parts), nsp);
	return true;
}

/*
 * entry_name: how a message names entry i of a backup's tables or
 * sequences: its position and, when it has one, its name.
 */
static char *
entry_name(const char *list, int i, const char *name)
{
	if (name)
		return psprintf("entry %d of %s (%s)", i + 1, list, quote_literal_cstr(name));
	return psprintf("entry %d of %s", i + 1, list);
}

/*
 * load_tables: the backup's tables, each entry checked: an object with
 * "table", "qname" and "backup" strings, a whole "rows" count and a
 * "columns" array.
 */
static void
load_tables(Restore *r, const char *tables)
{
	int			n;

	n = rs_spi("SELECT pg_catalog.jsonb_typeof(t), t->>'table', pg_catalog.jsonb_typeof(t->'table'),"
			   " t->>'qname', pg_catalog.jsonb_typeof(t->'qname'),"
			   " t->>'backup', pg_catalog.jsonb_typeof(t->'backup'),"
			   " CASE WHEN pg_catalog.jsonb_typeof(t->'rows') OPERATOR(pg_catalog.=) 'number'"
			   "       AND (t->>'rows') OPERATOR(pg_catalog.~) '^[0-9]{1,18}$'"
			   "      THEN (t->>'rows')::pg_catalog.int8 END,"
			   " pg_catalog.jsonb_typeof(t->'columns'), (t->'columns')::pg_catalog.text"
			   " FROM pg_catalog.jsonb_array_elements($1::pg_catalog.jsonb) t",
			   1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(tables)}, NULL, true, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		RestoreTable *t = palloc0(sizeof(RestoreTable));
		char	   *kind = rs_spi_text(i, 0);
		char	   *entry;
		Oid			relid;

		if (strcmp(kind, "object") != 0)
			damaged(r->reset_id, psprintf("%s is a JSON %s, not an object", entry_name("its tables", i, NULL), kind));
		t->name = rs_spi_text(i, 1);
		if (t->name != NULL && strcmp(rs_spi_text(i, 2), "string") != 0)
			t->name = NULL;
		entry = entry_name("its tables", i, t->name);
		if (t->name == NULL || t->name[0] == '\0')
			damaged(r->reset_id, psprintf("%s has no \"table\" name", entry));
		t->qname = rs_spi_text(i, 3);
		if (t->qname == NULL || strcmp(rs_spi_text(i, 4), "string") != 0)
			damaged(r->reset_id, psprintf("%s has no \"qname\" string", entry));
		if (!relation_by_qname(t->qname, &relid))
			damaged(r->reset_id, psprintf("%s: \"qname\" %s is not a schema-qualified table name",
										  entry, quote_literal_cstr(t->qname)));
		t->backup = rs_spi_text(i, 5);
		if (t->backup == NULL || strcmp(rs_spi_text(i, 6), "string") != 0 ||
			t->backup[0] == '\0' || strlen(t->backup) >= NAMEDATALEN)
			damaged(r->reset_id, psprintf("%s has no \"backup\" table name", entry));
		if (rs_spi_isnull(i, 7))
			damaged(r->reset_id, psprintf("%s has no \"rows\" count (a whole number from 0)", entry));
		t->rows = rs_spi_int64(i, 7, 0);
		if (rs_spi_isnull(i, 8) || strcmp(rs_spi_text(i, 8), "array") != 0)
			damaged(r->reset_id, psprintf("%s has no \"columns\" array", entry));
		t->columns = rs_spi_text(i, 9);
		t->rows_now = -1;
		r->tables = lappend(r->tables, t);
	}
}

/*
 * load_sequences: the backup's sequences, each entry checked: an object
 * with a "sequence" name, a bigint "last_value" and a boolean "is_called".
 */
static void
load_sequences(Restore *r, const char *seqs)
{
	int			n;

	n = rs_spi("SELECT pg_catalog.jsonb_typeof(s), s->>'sequence', pg_catalog.jsonb_typeof(s->'sequence'),"
			   " CASE WHEN pg_catalog.jsonb_typeof(s->'last_value') OPERATOR(pg_catalog.=) 'number'"
			   "       AND (s->>'last_value') OPERATOR(pg_catalog.~) '^-?[0-9]{1,19}$'"
			   "      THEN CASE WHEN (s->>'last_value')::pg_catalog.numeric"
			   "                     BETWEEN -9223372036854775808 AND 9223372036854775807"
			   "                THEN (s->>'last_value')::pg_catalog.int8 END END,"
			   " CASE WHEN pg_catalog.jsonb_typeof(s->'is_called') OPERATOR(pg_catalog.=) 'boolean'"
			   "      THEN (s->'is_called')::pg_catalog.bool END"
			   " FROM pg_catalog.jsonb_array_elements($1::pg_catalog.jsonb) s",
			   1, (Oid[]) {TEXTOID}, (Datum[]) {CStringGetTextDatum(seqs)}, NULL, true, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		RestoreSeq *q = palloc0(sizeof(RestoreSeq));
		char	   *kind = rs_spi_text(i, 0);
		char	   *entry;

		if (strcmp(kind, "object") != 0)
			damaged(r->reset_id, psprintf("%s is a JSON %s, not an object", entry_name("its sequences", i, NULL), kind));
		q->qname = rs_spi_text(i, 1);
		if (q->qname != NULL && strcmp(rs_spi_text(i, 2), "string") != 0)
			q->qname = NULL;
		entry = entry_name("its sequences", i, q->qname);
		if (q->qname == NULL || !relation_by_qname(q->qname, &q->relid))
			damaged(r->reset_id, psprintf("%s has no schema-qualified \"sequence\" name", entry));
		if (OidIsValid(q->relid) && get_rel_relkind(q->relid) != RELKIND_SEQUENCE)
			damaged(r->reset_id, psprintf("%s names a relation that is not a sequence", entry));
		if (rs_spi_isnull(i, 3))
			damaged(r->reset_id, psprintf("%s has no \"last_value\" (a bigint)", entry));
		q->last_value = rs_spi_int64(i, 3, 0);
		if (rs_spi_isnull(i, 4))
			damaged(r->reset_id, psprintf("%s has no \"is_called\" (true or false)", entry));
		q->is_called = rs_spi_bool(i, 4);
		r->seqs = lappend(r->seqs, q);
	}
}

/*
 * load_backup: the backup record, checked before anything is built from
 * it; ERROR when there is none, when it was dropped, or when it is
 * damaged.
 */
static Restore *
load_backup(RsSession *s, int64 reset_id, List *exclude)
{
	Restore    *r = palloc0(sizeof(Restore));
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char	   *tables;
	char	   *seqs;
	char	   *problem;
	int			n;
	ListCell   *lc;

	r->reset_id = reset_id;
	values[0] = Int64GetDatum(reset_id);
	rs_as_owner_begin(s);
	n = rs_spi("SELECT schema_name::pg_catalog.text, taken_at::pg_catalog.text, role_name::pg_catalog.text,"
			   " size_bytes, tables::pg_catalog.text, sequences::pg_catalog.text, dropped_at::pg_catalog.text, dropped_why,"
			   " pg_catalog.jsonb_typeof(tables), pg_catalog.jsonb_typeof(sequences)"
			   " FROM reset_system.backups WHERE reset_id OPERATOR(pg_catalog.=) $1",
			   1, argtypes, values, NULL, true, SPI_OK_SELECT);
	if (n == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("reset " INT64_FORMAT " has no backup", reset_id),
				 errdetail("Only a reset run with backup => true (or reset_system.backup = on) can be restored."),
				 errhint("SELECT * FROM reset_backups(); lists the backups there are.")));
	if (!rs_spi_isnull(0, 6))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the backup of reset " INT64_FORMAT " was dropped", reset_id),
				 errdetail("Dropped at %s (%s).", rs_spi_text(0, 6),
						   rs_spi_isnull(0, 7) ? "no reason recorded" : rs_spi_text(0, 7)),
				 errhint("SELECT * FROM reset_backups(); lists the backups there are.")));
	r->schema = rs_spi_text(0, 0);
	r->taken = rs_spi_text(0, 1);
	r->taken_by = rs_spi_text(0, 2);
	if (r->taken == NULL || r->taken_by == NULL)
		damaged(reset_id, "its taken_at or role_name is NULL");
	if (rs_spi_isnull(0, 3) || rs_spi_int64(0, 3, 0) < 0)
		damaged(reset_id, "its size_bytes is not a size");
	r->size = rs_spi_int64(0, 3, 0);
	if (rs_spi_isnull(0, 8) || strcmp(rs_spi_text(0, 8), "array") != 0)
		damaged(reset_id, "its tables are not a JSON array");
	if (rs_spi_isnull(0, 9) || strcmp(rs_spi_text(0, 9), "array") != 0)
		damaged(reset_id, "its sequences are not a JSON array");
	tables = rs_spi_text(0, 4);
	seqs = rs_spi_text(0, 5);
	problem = rs_backup_schema_problem(s, reset_id, r->schema, &r->nspoid);
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the backup record of reset " INT64_FORMAT " is damaged: %s", reset_id, problem),
				 errdetail("Only a schema made by a reset for its backup is read or changed. Nothing was changed."),
				 errhint("Correct reset_system.backups.schema_name of reset " INT64_FORMAT " to %s if that schema is "
						 "the backup, or drop the backup with SELECT reset_backup_drop(" INT64_FORMAT ");",
						 reset_id, rs_backup_schema_name(reset_id), reset_id)));
	if (!OidIsValid(r->nspoid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_SCHEMA),
				 errmsg("schema %s of the backup of reset " INT64_FORMAT " no longer exists", r->schema, reset_id),
				 errdetail("The backed-up rows are gone. Nothing was changed."),
				 errhint("Mark the backup dropped with SELECT reset_backup_drop(" INT64_FORMAT ");", reset_id)));
	load_tables(r, tables);
	load_sequences(r, seqs);
	rs_as_owner_end(s);

	/* every name in exclude must be one of the backed-up tables */
	foreach(lc, exclude)
	{
		char	   *name = (char *) lfirst(lc);
		bool		found = false;
		ListCell   *lc2;

		foreach(lc2, r->tables)
		{
			RestoreTable *t = (RestoreTable *) lfirst(lc2);

			if (strcmp(t->name, name) == 0 || strcmp(t->qname, name) == 0)
				t->excluded = found = true;
		}
		if (!found)
		{
			StringInfoData names;

			initStringInfo(&names);
			foreach(lc2, r->tables)
				appendStringInfo(&names, "%s%s", names.len ? ", " : "", ((RestoreTable *) lfirst(lc2))->name);
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table \"%s\" named in exclude is not in the backup of reset " INT64_FORMAT, name, reset_id),
					 errdetail("The backup holds: %s.", names.len ? names.data : "no table"),
					 errhint("Name tables as schema.table, as listed above.")));
		}
	}
	return r;
}

/*
 * resolve: each table now, checked against the backup and the
 * configuration; blockers for every difference.
 */
static void
resolve(Restore *r, RsPlan *plan)
{
	ListCell   *lc;

	foreach(lc, r->tables)
	{
		RestoreTable *t = (RestoreTable *) lfirst(lc);
		char	   *now;

		ListCell   *lc2;

		if (t->excluded)
			continue;
		(void) relation_by_qname(t->qname, &t->relid);	/* checked by load_tables */
		if (OidIsValid(t->relid) && get_rel_relkind(t->relid) != RELKIND_RELATION)
			t->relid = InvalidOid;
		if (!OidIsValid(t->relid))
		{
			blocker(r, psprintf("table %s no longer exists", t->name), exclude_hint(r, t->name));
			continue;
		}
		foreach(lc2, r->tables)
		{
			RestoreTable *o = (RestoreTable *) lfirst(lc2);

			if (o == t)
				break;
			if (o->relid == t->relid)
				damaged(r->reset_id, psprintf("table %s is listed twice in its tables", t->name));
		}
		/* from here on, SQL names the table as the catalog does now */
		t->qname = rs_qualified_name(t->relid, true);
		if (!OidIsValid(get_relname_relid(t->backup, r->nspoid)) ||
			get_rel_relkind(get_relname_relid(t->backup, r->nspoid)) != RELKIND_RELATION)
			blocker(r, psprintf("the backup of table %s (table %s in schema %s) is missing", t->name,
								quote_identifier(t->backup), r->schema),
					exclude_hint(r, t->name));
		now = rs_backup_columns(t->relid);
		if (strcmp(now, t->columns) != 0)
			blocker(r, psprintf("the columns of table %s changed since the backup: then %s, now %s",
								t->name, t->columns, now),
					exclude_hint(r, t->name));
		if (!list_member_oid(plan->effective_delete, t->relid))
			blocker(r, psprintf("table %s is no longer registered for deletion", t->name),
					psprintf("Register it again with SELECT reset_register_table(%s, 'delete'); or leave it out: %s",
							 quote_literal_cstr(t->qname), exclude_sql(r, t->name)));
		rs_spi(psprintf("SELECT pg_catalog.count(*) FROM ONLY %s", t->qname), 0, NULL, NULL, NULL, true, SPI_OK_SELECT);
		t->rows_now = rs_spi_int64(0, 0, 0);
	}
}

/*
 * order_tables: insert order, referenced tables first (Kahn's algorithm
 * on the foreign keys among the restored tables).  Tables that reference
 * each other in a cycle need DEFERRABLE constraints, checked at the end of
 * the restore.
 */
static void
order_tables(Restore *r)
{
	List	   *todo = NIL;
	ListCell   *lc;
	int			next = 0;
	bool		progress = true;

	foreach(lc, r->tables)
	{
		RestoreTable *t = (RestoreTable *) lfirst(lc);

		if (!t->excluded && OidIsValid(t->relid))
			todo = lappend(todo, t);
	}
	while (todo != NIL && progress)
	{
		List	   *rest = NIL;

		progress = false;
		foreach(lc, todo)
		{
			RestoreTable *t = (RestoreTable *) lfirst(lc);
			bool		waits = false;
			ListCell   *lc2;

			/* does it reference a table still to insert? */
			foreach(lc2, todo)
			{
				RestoreTable *o = (RestoreTable *) lfirst(lc2);

				if (o == t)
					continue;
				rs_spi("SELECT 1 FROM pg_catalog.pg_constraint WHERE contype OPERATOR(pg_catalog.=) 'f'"
					   " AND conrelid OPERATOR(pg_catalog.=) $1 AND confrelid OPERATOR(pg_catalog.=) $2 LIMIT 1",
					   2, (Oid[]) {OIDOID, OIDOID},
					   (Datum[]) {ObjectIdGetDatum(t->relid), ObjectIdGetDatum(o->relid)},
					   NULL, true, SPI_OK_SELECT);
				if (SPI_processed > 0)
				{
					waits = true;
					break;
				}
			}
			if (waits)
				rest = lappend(rest, t);
			else
			{
				t->order = ++next;
				progress = true;
			}
		}
		todo = rest;
	}
	if (todo == NIL)
		return;

	/* a cycle: its constraints must be deferrable */
	r->deferred = true;
	foreach(lc, todo)
	{
		RestoreTable *t = (RestoreTable *) lfirst(lc);
		ListCell   *lc2;

		t->order = ++next;
		foreach(lc2, todo)
		{
			RestoreTable *o = (RestoreTable *) lfirst(lc2);

			if (o == t)
				continue;
			rs_spi("SELECT conname::pg_catalog.text FROM pg_catalog.pg_constraint"
				   " WHERE contype OPERATOR(pg_catalog.=) 'f' AND NOT condeferrable"
				   " AND conrelid OPERATOR(pg_catalog.=) $1 AND confrelid OPERATOR(pg_catalog.=) $2 LIMIT 1",
				   2, (Oid[]) {OIDOID, OIDOID},
				   (Datum[]) {ObjectIdGetDatum(t->relid), ObjectIdGetDatum(o->relid)},
				   NULL, true, SPI_OK_SELECT);
			if (SPI_processed > 0)
				blocker(r, psprintf("tables %s and %s reference each other, and constraint \"%s\" is not DEFERRABLE, "
									"so their rows cannot be inserted one table after the other",
									t->name, o->name, rs_spi_text(0, 0)),
						psprintf("ALTER TABLE %s ALTER CONSTRAINT %s DEFERRABLE; then restore.",
								 t->qname, quote_identifier(rs_spi_text(0, 0))));
		}
	}
}

/*
 * storage_state: what the reset's purge did and what is left of it.
 */
static void
storage_state(RsSession *s, Restore *r)
{
	rs_as_owner_begin(s);
	rs_spi("SELECT pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.=) 'object'"
		   "   AND outcome OPERATOR(pg_catalog.=) ANY (ARRAY['deleted', 'already gone'])),"
		   " pg_catalog.count(*) FILTER (WHERE kind OPERATOR(pg_catalog.<>) 'upload'"
		   "   AND state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'failed'])),"
		   " pg_catalog.count(*) FILTER (WHERE outcome OPERATOR(pg_catalog.=) 'uploaded')"
		   " FROM reset_system.purge_queue WHERE reset_id OPERATOR(pg_catalog.=) $1",
		   1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(r->reset_id)}, NULL, true, SPI_OK_SELECT);
	r->objects_gone = rs_spi_int64(0, 0, 0);
	r->objects_open = rs_spi_int64(0, 1, 0);
	r->uploads_done = rs_spi_int64(0, 2, 0);
	rs_as_owner_end(s);
}

/*
 * text_list: a text[] argument as a List of char * (NULL: empty).
 */
static List *
text_list(FunctionCallInfo fcinfo, int arg)
{
	List	   *result = NIL;
	ListCell   *lc;

	if (PG_ARGISNULL(arg))
		return NIL;
	foreach(lc, rs_text_array_to_list(PG_GETARG_DATUM(arg)))
	{
		if (lfirst(lc) == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("exclude must not contain NULL")));
		result = lappend(result, lfirst(lc));
	}
	return result;
}

/*
 * prepare: everything both the plan and the restore need.
 */
static Restore *
prepare(RsSession *s, int64 reset_id, List *exclude, RsPlan **plan_out, bool lock_unlock)
{
	RsPlan	   *plan = rs_plan_load(s, lock_unlock);
	Restore    *r;

	rs_plan_analyze(plan);
	r = load_backup(s, reset_id, exclude);
	resolve(r, plan);
	order_tables(r);
	storage_state(s, r);
	*plan_out = plan;
	return r;
}

/*
 * render_plan: the dry run, for a person.
 */
static char *
render_plan(Restore *r, RsPlan *plan)
{
	StringInfoData buf;
	ListCell   *lc;
	int64		rows = 0,
				now = 0;
	int			n = 0;
	List	   *excluded = NIL;
	int			sqlstate;
	char	   *message,
			   *detail,
			   *hint;

	initStringInfo(&buf);
	appendStringInfo(&buf, "reset_system restore plan for reset " INT64_FORMAT " (dry run: nothing was changed)\n",
					 r->reset_id);
	appendStringInfo(&buf, "Database:     %s @ %s\n", plan->database, plan->server);
	appendStringInfo(&buf, "Environment:  %s\n", rs_env_describe(&plan->env));
	appendStringInfo(&buf, "Backup:       schema %s, taken %s by %s (%s)\n\n", r->schema, r->taken, r->taken_by,
					 rs_format_size(r->size));
	foreach(lc, r->tables)
	{
		RestoreTable *t = (RestoreTable *) lfirst(lc);

		if (t->excluded)
		{
			excluded = lappend(excluded, t->name);
			continue;
		}
		rows += t->rows;
		now += Max(t->rows_now, 0);
		n++;
	}
	appendStringInfo(&buf, "Will RESTORE %s row(s) into %d table(s), replacing the %s row(s) there now:\n",
					 rs_format_count(rows), n, rs_format_count(now));
	appendStringInfo(&buf, "  %12s  %12s  %s\n", "restore", "replace", "table");
	foreach(lc, r->tables)
	{
		RestoreTable *t = (RestoreTable *) lfirst(lc);

		if (!t->excluded)
			appendStringInfo(&buf, "  %12s  %12s  %s\n", rs_format_count(t->rows),
							 t->rows_now >= 0 ? rs_format_count(t->rows_now) : "?", t->name);
	}
	if (r->seqs)
		appendStringInfo(&buf, "Will RESTORE %d sequence(s) to their values before the reset.\n", list_length(r->seqs));
	foreach(lc, excluded)
		appendStringInfo(&buf, "Will LEAVE AS IT IS (exclude): %s\n", (char *) lfirst(lc));
	appendStringInfo(&buf, "Storage: %s object(s) of that reset already purged (their rows come back without their files); "
					 "%s purge(s) still pending or failed will be cancelled.\n",
					 rs_format_count(r->objects_gone), rs_format_count(r->objects_open));
	if (r->uploads_done > 0)
		appendStringInfo(&buf, "Storage: %s resource file(s) uploaded by the reset's rebuild steps stay in storage.\n",
						 rs_format_count(r->uploads_done));
	if (r->deferred)
		appendStringInfoString(&buf, "Tables reference each other: foreign keys are checked at the end of the restore.\n");

	if (rs_env_blocker(&plan->env, &sqlstate, &message, &detail, &hint))
		blocker(r, message, hint);
	if (r->blockers == NIL)
		appendStringInfoString(&buf, "\nBlockers: none\n");
	else
	{
		ListCell   *lh;

		appendStringInfo(&buf, "\nBlockers (%d): reset_restore refuses until they are fixed\n", list_length(r->blockers));
		forboth(lc, r->blockers, lh, r->hints)
			appendStringInfo(&buf, "  - %s. %s\n", (char *) lfirst(lc), (char *) lfirst(lh));
	}
	appendStringInfo(&buf, "\nDry run: nothing was changed. %s",
					 r->blockers ? "Fix the blocker(s) above first."
					 : psprintf("To restore, run: SELECT reset_restore(" INT64_FORMAT ", '%s'%s);",
								r->reset_id, RS_RESTORE_PHRASE,
								excluded ? ", exclude => ..." : ""));
	return buf.data;
}

/*
 * reset_restore_plan(reset_id bigint, exclude text[] DEFAULT '{}') returns text
 */
Datum
reset_restore_plan(PG_FUNCTION_ARGS)
{
	RsSession	s;
	RsPlan	   *plan;
	Restore    *r;
	char	   *out;
	List	   *exclude;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("reset_restore_plan needs the id of a reset"),
				 errhint("SELECT * FROM reset_backups(); lists the resets that can be restored.")));
	exclude = text_list(fcinfo, 1);
	rs_enter(&s);
	SPI_connect();
	r = prepare(&s, PG_GETARG_INT64(0), exclude, &plan, false);
	out = rs_copy_out(render_plan(r, plan));
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

/*
 * check_privileges: the caller's own rights on every table to restore and
 * sequence to set; the restore runs with them.
 */
static void
check_privileges(RsSession *s, Restore *r)
{
	ListCell   *lc;

	foreach(lc, r->tables)
	{
		RestoreTable *t = (RestoreTable *) lfirst(lc);

		if (t->excluded)
			continue;
		/* each right on its own: aclcheck accepts any one of a mask */
		if (pg_class_aclcheck(t->relid, s->caller_role, ACL_SELECT) != ACLCHECK_OK ||
			pg_class_aclcheck(t->relid, s->caller_role, ACL_INSERT) != ACLCHECK_OK ||
			pg_class_aclcheck(t->relid, s->caller_role, ACL_DELETE) != ACLCHECK_OK)
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to restore table %s", t->name),
					 errdetail("A restore deletes and inserts rows with the caller's own rights. Nothing was changed."),
					 errhint("GRANT SELECT, INSERT, DELETE ON %s TO %s;", t->qname,
							 quote_identifier(GetUserNameFromId(s->caller_role, false)))));
	}
}

/*
 * lock_all: the tables (and sequences) to restore, as a reset locks them.
 */
static void
lock_all(Restore *r)
{
	List	   *relids = NIL;
	ListCell   *lc;

	foreach(lc, r->tables)
	{
		RestoreTable *t = (RestoreTable *) lfirst(lc);

		if (!t->excluded)
			relids = lappend_oid(relids, t->relid);
	}
	foreach(lc, r->seqs)
	{
		RestoreSeq *q = (RestoreSeq *) lfirst(lc);

		if (OidIsValid(q->relid))
			relids = lappend_oid(relids, q->relid);
	}
	list_sort(relids, list_oid_cmp);
	(void) rs_lock_relations(relids, AccessExclusiveLock, rs_lock_timeout_ms);
}

/*
 * backup_access: let (or stop letting) the caller read the backup tables,
 * in this transaction only: the GRANT and the REVOKE commit together.
 */
static void
backup_access(RsSession *s, Restore *r, bool grant)
{
	char	   *role = pstrdup(quote_identifier(GetUserNameFromId(s->caller_role, false)));
	char	   *schema = pstrdup(quote_identifier(r->schema));

	rs_as_owner_begin(s);
	if (grant)
	{
		rs_spi(psprintf("GRANT USAGE ON SCHEMA %s TO %s", schema, role), 0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
		rs_spi(psprintf("GRANT SELECT ON ALL TABLES IN SCHEMA %s TO %s", schema, role), 0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
	}
	else
	{
		rs_spi(psprintf("REVOKE SELECT ON ALL TABLES IN SCHEMA %s FROM %s", schema, role), 0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
		rs_spi(psprintf("REVOKE USAGE ON SCHEMA %s FROM %s", schema, role), 0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
	}
	rs_as_owner_end(s);
}

/*
 * insert_columns: the columns a restore writes (generated ones are
 * computed again).
 */
static char *
insert_columns(Oid relid)
{
	rs_spi("SELECT pg_catalog.string_agg(pg_catalog.quote_ident(attname), ', ' ORDER BY attnum)"
		   " FROM pg_catalog.pg_attribute WHERE attrelid OPERATOR(pg_catalog.=) $1"
		   " AND attnum OPERATOR(pg_catalog.>) 0 AND NOT attisdropped AND attgenerated OPERATOR(pg_catalog.=) ''",
		   1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(relid)}, NULL, true, SPI_OK_SELECT);
	return rs_spi_text(0, 0);
}

/*
 * cmp_order: sort by insert order.
 */
static int
cmp_order(const ListCell *a, const ListCell *b)
{
	return ((RestoreTable *) lfirst(a))->order - ((RestoreTable *) lfirst(b))->order;
}

/*
 * do_restore: the body of reset_restore, after the phrase and the first
 * guards.
 */
static char *
do_restore(RsSession *s, int64 reset_id, List *exclude, int64 *rows_out)
{
	RsPlan	   *plan;
	Restore    *r;
	StringInfoData report;
	List	   *sorted;
	ListCell   *lc;
	int			sqlstate;
	char	   *message,
			   *detail,
			   *hint;
	int64		rows = 0;
	int64		cancelled;
	StringInfoData tables;
	List	   *excluded = NIL;

	r = prepare(s, reset_id, exclude, &plan, true);
	if (rs_env_blocker(&plan->env, &sqlstate, &message, &detail, &hint))
		ereport(ERROR,
				(errcode(sqlstate), errmsg("%s", message), errdetail("%s", detail), errhint("%s", hint)));
	if (r->blockers)
	{
		StringInfoData all;
		ListCell   *lh;

		initStringInfo(&all);
		if (list_length(r->blockers) > 1)
			forboth(lc, r->blockers, lh, r->hints)
				appendStringInfo(&all, "%s%s.", all.len ? " " : "All of it: ", (char *) lfirst(lc));
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the backup of reset " INT64_FORMAT " does not match the database now: %s",
						reset_id, (char *) linitial(r->blockers)),
				 errdetail("%s%sNothing was changed.", all.data, all.len ? " " : ""),
				 errhint("%s", (char *) linitial(r->hints))));
	}
	check_privileges(s, r);
	lock_all(r);

	/* cancel the purge first: it waits for a worker round in progress */
	rs_as_owner_begin(s);
	cancelled = rs_spi("UPDATE reset_system.purge_queue SET state = 'done', hold_for = NULL,"
					   " outcome = 'cancelled: restored', done_at = pg_catalog.clock_timestamp()"
					   " WHERE reset_id OPERATOR(pg_catalog.=) $1"
					   "   AND state OPERATOR(pg_catalog.=) ANY (ARRAY['pending', 'failed'])",
					   1, (Oid[]) {INT8OID}, (Datum[]) {Int64GetDatum(reset_id)}, NULL, false, SPI_OK_UPDATE);
	rs_as_owner_end(s);
	storage_state(s, r);

	initStringInfo(&report);
	backup_access(s, r, true);
	if (r->deferred)
		rs_spi("SET CONSTRAINTS ALL DEFERRED", 0, NULL, NULL, NULL, false, SPI_OK_UTILITY);

	sorted = list_copy(r->tables);
	list_sort(sorted, cmp_order);
	/* out with what is there now: referencing tables first */
	for (int i = list_length(sorted) - 1; i >= 0; i--)
	{
		RestoreTable *t = (RestoreTable *) list_nth(sorted, i);

		if (t->excluded)
			continue;
		t->replaced = rs_spi(psprintf("DELETE FROM ONLY %s", t->qname), 0, NULL, NULL, NULL, false, SPI_OK_DELETE);
	}
	/* in with the backed-up rows: referenced tables first */
	foreach(lc, sorted)
	{
		RestoreTable *t = (RestoreTable *) lfirst(lc);
		char	   *cols;

		if (t->excluded)
			continue;
		cols = insert_columns(t->relid);
		t->restored = rs_spi(psprintf("INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s FROM %s.%s",
									  t->qname, cols, cols, quote_identifier(r->schema), quote_identifier(t->backup)),
							 0, NULL, NULL, NULL, false, SPI_OK_INSERT);
		if (t->restored != t->rows)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_CORRUPTED),
					 errmsg("the backup of table %s holds " INT64_FORMAT " row(s), " INT64_FORMAT " were expected",
							t->name, t->restored, t->rows),
					 errdetail("Schema %s was changed after the reset. Nothing was changed.", r->schema)));
		rows += t->restored;
	}
	foreach(lc, r->seqs)
	{
		RestoreSeq *q = (RestoreSeq *) lfirst(lc);

		if (!OidIsValid(q->relid))
			continue;			/* dropped since the backup */
		rs_spi("SELECT pg_catalog.setval($1, $2, $3)", 3,
			   (Oid[]) {REGCLASSOID, INT8OID, BOOLOID},
			   (Datum[]) {ObjectIdGetDatum(q->relid), Int64GetDatum(q->last_value), BoolGetDatum(q->is_called)},
			   NULL, false, SPI_OK_SELECT);
	}
	if (r->deferred)
		rs_spi("SET CONSTRAINTS ALL IMMEDIATE", 0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
	backup_access(s, r, false);

	/* the report */
	initStringInfo(&tables);
	appendStringInfoChar(&tables, '[');
	foreach(lc, r->tables)
	{
		RestoreTable *t = (RestoreTable *) lfirst(lc);
		char	   *line;

		if (t->excluded)
		{
			line = psprintf("Left %s as it is (exclude).", t->name);
			excluded = lappend(excluded, t->name);
		}
		else
		{
			line = psprintf("Restored %s row(s) of %s (replaced %s).", rs_format_count(t->restored), t->name,
							rs_format_count(t->replaced));
			/* escape_json: names are in the server's encoding, as jsonb input is */
			appendStringInfoString(&tables, tables.len > 1 ? ", {\"table\": " : "{\"table\": ");
			escape_json(&tables, t->name);
			appendStringInfo(&tables, ", \"restored\": " INT64_FORMAT ", \"replaced\": " INT64_FORMAT "}",
							 t->restored, t->replaced);
		}
		ereport(NOTICE, (errmsg_internal("%s", line)));
		appendStringInfo(&report, "%s\n", line);
	}
	appendStringInfoChar(&tables, ']');
	if (r->seqs)
	{
		char	   *line = psprintf("Restored %d sequence(s).", list_length(r->seqs));

		ereport(NOTICE, (errmsg_internal("%s", line)));
		appendStringInfo(&report, "%s\n", line);
	}
	if (cancelled > 0)
	{
		char	   *line = psprintf("Cancelled %s storage purge(s) of reset " INT64_FORMAT ": those files stay.",
									rs_format_count(cancelled), reset_id);

		ereport(NOTICE, (errmsg_internal("%s", line)));
		appendStringInfo(&report, "%s\n", line);
	}
	if (r->objects_gone > 0)
	{
		char	   *line = psprintf("%s storage object(s) of reset " INT64_FORMAT " were already purged: "
									"restored rows that reference them point to files that no longer exist.",
									rs_format_count(r->objects_gone), reset_id);

		ereport(WARNING,
				(errmsg("%s", line),
				 errhint("SELECT key FROM reset_system.purge_queue WHERE reset_id = " INT64_FORMAT
						 " AND outcome IN ('deleted', 'already gone'); lists them.", reset_id)));
		appendStringInfo(&report, "%s\n", line);
	}

	rs_as_owner_begin(s);
	rs_spi("INSERT INTO reset_system.restores (reset_id, restored_at, role_name, database_name, environment,"
		   " tables, excluded, rows_restored, objects_already_purged, objects_cancelled, transaction_id, unlock_id)"
		   " VALUES ($1, pg_catalog.now(), $2, pg_catalog.current_database(), $3, $4::pg_catalog.jsonb, $5,"
		   "  $6, $7, $8, pg_catalog.pg_current_xact_id(), NULLIF($9, 0))",
		   9, (Oid[]) {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID, INT8OID, INT8OID, INT8OID, INT8OID},
		   (Datum[]) {Int64GetDatum(reset_id),
				CStringGetTextDatum(GetUserNameFromId(s->caller_role, false)),
				CStringGetTextDatum(plan->environment),
				CStringGetTextDatum(tables.data),
				rs_list_to_text_array(excluded),
				Int64GetDatum(rows), Int64GetDatum(r->objects_gone), Int64GetDatum(cancelled),
		   Int64GetDatum(plan->env.unlock_id)},
		   NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(s);
	rs_env_consume(s, plan->env.unlock_id, reset_id);
	if (plan->env.unlock_id != 0)
		appendStringInfo(&report, "Used the unlock of environment \"%s\"; it is locked again.\n", plan->environment);
	appendStringInfo(&report, "Restore of reset " INT64_FORMAT " complete.", reset_id);
	ereport(NOTICE, (errmsg_internal("Restore of reset " INT64_FORMAT " complete.", reset_id)));
	*rows_out = rows;
	return report.data;
}

/*
 * reset_restore(reset_id bigint, phrase text, exclude text[] DEFAULT '{}') returns text
 */
Datum
reset_restore(PG_FUNCTION_ARGS)
{
	int64		reset_id = PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0);
	char	   *phrase = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	MemoryContext oldcontext = CurrentMemoryContext;
	RsSession	s;
	char	   *out = NULL;
	int64		rows = -1;
	List	   *exclude;

	PG_TRY();
	{
		if (PG_ARGISNULL(0))
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("reset_restore needs the id of a reset"),
					 errhint("SELECT * FROM reset_backups(); lists the resets that can be restored.")));
		rs_guard_phrase_hint(phrase, RS_RESTORE_PHRASE,
							 psprintf("Read SELECT reset_restore_plan(" INT64_FORMAT "); then run: SELECT reset_restore(" INT64_FORMAT ", '%s');",
									  reset_id, reset_id, RS_RESTORE_PHRASE));
		rs_guard_enabled();
		rs_guard_writable("restore a reset");
		exclude = text_list(fcinfo, 2);

		rs_enter(&s);
		SPI_connect();
		out = rs_copy_out(do_restore(&s, reset_id, exclude, &rows));
		SPI_finish();
		rs_leave(&s);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		rs_journal_this_attempt(rs_guard_is_refusal(edata->sqlerrcode) ? "restore refused" : "restore failed",
				edata->message, edata->sqlerrcode, reset_id, -1);
		PG_RE_THROW();
	}
	PG_END_TRY();

	rs_journal_this_attempt("restore executed", psprintf("restored " INT64_FORMAT " row(s) from the backup of reset " INT64_FORMAT, rows, reset_id),
			0, reset_id, rows);
	PG_RETURN_TEXT_P(cstring_to_text(out));
}
