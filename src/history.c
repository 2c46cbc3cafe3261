/*-------------------------------------------------------------------------
 *
 * history.c
 *	  Record a completed reset in reset_system.history.
 *
 * The row is written inside the reset's transaction: it commits with the
 * reset or rolls back with it, so the table lists exactly the resets that
 * happened.  It is written with the extension owner's rights; operators
 * can read it but not forge it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/timestamp.h"

#include "funcapi.h"
#include "history.h"
#include "journal.h"

#include "strategy.h"

PG_FUNCTION_INFO_V1(reset_history);
PG_FUNCTION_INFO_V1(reset_history_detail);

/*
 * tables_json: [{"table", "label", "rows", "method"}, ...]; a preserved
 * table that the reset's steps changed has "rows_before" too, a table
 * with partitions or children "tree" (how many).
 */
static char *
tables_json(List *tables, bool with_method)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	foreach(lc, tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (lc != list_head(tables))
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, "{\"table\": ");
		escape_json(&buf, t->name);
		appendStringInfoString(&buf, ", \"label\": ");
		escape_json(&buf, t->label);
		appendStringInfo(&buf, ", \"rows\": " INT64_FORMAT, t->rows);
		if (!with_method && t->rows_before != t->rows)
			appendStringInfo(&buf, ", \"rows_before\": " INT64_FORMAT, t->rows_before);
		if (t->members != NIL)
			appendStringInfo(&buf, ", \"tree\": %d", list_length(t->members));
		if (with_method)
			appendStringInfo(&buf, ", \"method\": \"%s\"", rs_method_name(t->method));
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * rebuilds_json: [{"label", "count", "did"}, ...]: the integer the step
 * returned or the rows it affected, and what it did in words ("phase":
 * "before" for a step that ran before the deletes).
 */
static char *
rebuilds_json(List *rebuilds)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	foreach(lc, rebuilds)
	{
		RsRebuild  *r = (RsRebuild *) lfirst(lc);

		if (lc != list_head(rebuilds))
			appendStringInfoString(&buf, ", ");
		appendStringInfoString(&buf, "{\"label\": ");
		escape_json(&buf, r->label);
		if (r->count >= 0)
			appendStringInfo(&buf, ", \"count\": " INT64_FORMAT, r->count);
		else
			appendStringInfoString(&buf, ", \"count\": null");
		appendStringInfoString(&buf, ", \"did\": ");
		escape_json(&buf, r->did ? r->did : "");
		if (r->before)
			appendStringInfoString(&buf, ", \"phase\": \"before\"");
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * rs_history_reserve_id: the id the reset will be recorded under (the
 * purge queue rows carry it).
 */
int64
rs_history_reserve_id(RsSession *s)
{
	int64		id;

	rs_as_owner_begin(s);
	rs_spi("SELECT pg_catalog.nextval('reset_system.history_id_seq'::pg_catalog.regclass)",
		   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	id = rs_spi_int64(0, 0, 0);
	rs_as_owner_end(s);
	return id;
}

/*
 * rs_history_record: insert the history row.  A reset with nothing to
 * purge is recorded with its purge already finished.
 */
void
rs_history_record(RsSession *s, RsPlan *plan, const RsResetRecord *rec)
{
	Oid			argtypes[17] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, BOOLOID,
	TEXTARRAYOID, INT8OID, TEXTOID};
	Datum		values[17];
	char		nulls[17];

	memset(nulls, ' ', sizeof(nulls));
	values[0] = TimestampTzGetDatum(rec->started);
	values[1] = CStringGetTextDatum(GetUserNameFromId(s->caller_role, false));
	values[2] = CStringGetTextDatum(GetUserNameFromId(GetSessionUserId(), false));
	values[3] = CStringGetTextDatum(plan->database);
	values[4] = CStringGetTextDatum(plan->environment);
	values[5] = CStringGetTextDatum(plan->mode);
	values[6] = CStringGetTextDatum(plan->token);
	values[7] = Int64GetDatum(plan->delete_rows);
	values[8] = CStringGetTextDatum(tables_json(plan->delete_tables, true));
	values[9] = CStringGetTextDatum(tables_json(plan->preserve_tables, false));
	values[10] = CStringGetTextDatum(rebuilds_json(plan->cfg->rebuilds));
	values[11] = Int64GetDatum(rec->id);
	values[12] = Int64GetDatum(rec->purge_objects);
	values[13] = BoolGetDatum(rec->purge_objects == 0 && !rec->purge_prefixes && rec->uploads == 0);
	values[14] = rs_list_to_text_array(rec->terminated);
	values[15] = Int64GetDatum(rec->unlock_id);
	if (rec->unlock_id == 0)
		nulls[15] = 'n';
	values[16] = CStringGetTextDatum(rs_application_name());

	rs_as_owner_begin(s);
	rs_spi("INSERT INTO reset_system.history"
		   " (id, started_at, finished_at, role_name, session_role, database_name,"
		   "  environment, mode, plan_token, rows_deleted, deleted, preserved,"
		   "  rebuilt, outcome, transaction_id, client_addr, application_name,"
		   "  purge_objects, purged, purge_failed, purge_finished_at, terminated, unlock_id)"
		   " VALUES ($12, $1, pg_catalog.clock_timestamp(), $2, $3, $4, $5, $6, $7, $8,"
		   "  $9::pg_catalog.jsonb, $10::pg_catalog.jsonb, $11::pg_catalog.jsonb,"
		   "  'completed', pg_catalog.pg_current_xact_id(), pg_catalog.inet_client_addr(),"
		   "  $17, $13,"
		   "  CASE WHEN $14 THEN 0 END, CASE WHEN $14 THEN 0 END,"
		   "  CASE WHEN $14 THEN pg_catalog.clock_timestamp() END, $15, $16)",
		   17, argtypes, values, nulls, false, SPI_OK_INSERT);
	rs_as_owner_end(s);
}

/*
 * reset_history(): every reset and every attempt, newest first.
 *
 * Completed resets come from reset_system.history.  Refusals, failures,
 * unlocks and locks come from reset_system.attempts, after copying in the
 * journal entries the worker has not copied yet.  An attempt journaled as
 * "executed" is shown as its history row when its transaction committed,
 * and as "rolled back" otherwise (still "in progress" while it runs).
 */
Datum
reset_history(PG_FUNCTION_ARGS)
{
	RsSession	s;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	int			n;

	store = rs_srf_begin(fcinfo, &tupdesc);
	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	(void) rs_journal_ingest(NULL);
	n = rs_spi("SELECT at, role_name, database_name, environment, outcome, reason, reset_id,"
			   " rows_deleted, purged, purge_failed, application_name, transaction_id FROM ("
			   " SELECT h.finished_at AS at, h.role_name, h.database_name, h.environment,"
			   "  'completed'::pg_catalog.text AS outcome,"
			   "  CASE WHEN pg_catalog.cardinality(h.terminated) OPERATOR(pg_catalog.>) 0"
			   "   THEN 'terminated ' OPERATOR(pg_catalog.||) pg_catalog.array_to_string(h.terminated, '; ')"
			   "  END AS reason,"
			   "  h.id AS reset_id, h.rows_deleted, h.purged, h.purge_failed, h.application_name,"
			   "  h.transaction_id, h.id AS tiebreak"
			   " FROM reset_system.history h"
			   " UNION ALL"
			   " SELECT a.at, a.role_name, a.database_name, a.environment,"
			   "  CASE WHEN a.outcome OPERATOR(pg_catalog.=) 'restore executed' THEN"
			   "         CASE WHEN EXISTS (SELECT 1 FROM reset_system.restores r"
			   "                           WHERE r.transaction_id OPERATOR(pg_catalog.=) a.transaction_id)"
			   "              THEN 'restored'"
			   "              WHEN pg_catalog.pg_xact_status(a.transaction_id) OPERATOR(pg_catalog.=) 'in progress'"
			   "              THEN 'in progress' ELSE 'restore rolled back' END"
			   "       WHEN a.outcome OPERATOR(pg_catalog.<>) 'executed' THEN a.outcome"
			   "       WHEN pg_catalog.pg_xact_status(a.transaction_id) OPERATOR(pg_catalog.=) 'in progress'"
			   "       THEN 'in progress' ELSE 'rolled back' END,"
			   "  a.reason, a.reset_id, a.rows_deleted, NULL, NULL, a.application_name,"
			   "  a.transaction_id, -a.id"
			   " FROM reset_system.attempts a"
			   " WHERE NOT (a.outcome OPERATOR(pg_catalog.=) 'executed' AND EXISTS"
			   "   (SELECT 1 FROM reset_system.history h WHERE h.id OPERATOR(pg_catalog.=) a.reset_id))"
			   ") x ORDER BY at DESC, tiebreak DESC",
			   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		Datum		v[12];
		bool		nulls[12];

		for (int c = 0; c < 12; c++)
			v[c] = rs_spi_datum(i, c, &nulls[c]);
		tuplestore_putvalues(store, tupdesc, v, nulls);
	}
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);
	return (Datum) 0;
}

/*
 * reset_history_detail(reset_id bigint DEFAULT NULL): every column of
 * reset_system.history, one row per completed reset (newest first), or
 * the one given.  For operators, who cannot read the extension's tables:
 * per-table counts and methods, preserved counts, what each rebuild step
 * did, and the purge totals (see purge_totals.h for how they count).
 */
Datum
reset_history_detail(PG_FUNCTION_ARGS)
{
	RsSession	s;
	TupleDesc	tupdesc;
	Tuplestorestate *store;
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	char		nulls[1];
	int			n;

	values[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';

	store = rs_srf_begin(fcinfo, &tupdesc);
	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	n = rs_spi("SELECT id, started_at, finished_at, role_name, session_role, database_name,"
			   " environment, mode, plan_token, rows_deleted, deleted, preserved, rebuilt,"
			   " transaction_id, client_addr, application_name, purge_objects, purged,"
			   " purge_failed, purge_finished_at, terminated, unlock_id"
			   " FROM reset_system.history"
			   " WHERE $1 IS NULL OR id OPERATOR(pg_catalog.=) $1"
			   " ORDER BY id DESC",
			   1, argtypes, values, nulls, true, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		Datum		v[22];
		bool		isnull[22];

		for (int c = 0; c < 22; c++)
			v[c] = rs_spi_datum(i, c, &isnull[c]);
		tuplestore_putvalues(store, tupdesc, v, isnull);
	}
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);
	return (Datum) 0;
}
