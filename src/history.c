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

#include "history.h"
#include "strategy.h"

/*
 * tables_json: [{"table", "label", "rows", "method"}, ...]
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
		if (with_method)
			appendStringInfo(&buf, ", \"method\": \"%s\"", rs_method_name(t->method));
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * rebuilds_json: [{"label", "count"}, ...]
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
			appendStringInfo(&buf, ", \"count\": " INT64_FORMAT "}", r->count);
		else
			appendStringInfoString(&buf, ", \"count\": null}");
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
int64
rs_history_record(RsSession *s, RsPlan *plan, int64 id, TimestampTz started,
				  int64 purge_objects, bool purge_prefixes)
{
	Oid			argtypes[14] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, INT8OID, TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, BOOLOID};
	Datum		values[14];

	values[0] = TimestampTzGetDatum(started);
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
	values[11] = Int64GetDatum(id);
	values[12] = Int64GetDatum(purge_objects);
	values[13] = BoolGetDatum(purge_objects == 0 && !purge_prefixes);

	rs_as_owner_begin(s);
	rs_spi("INSERT INTO reset_system.history"
		   " (id, started_at, finished_at, role_name, session_role, database_name,"
		   "  environment, mode, plan_token, rows_deleted, deleted, preserved,"
		   "  rebuilt, outcome, transaction_id, client_addr, application_name,"
		   "  purge_objects, purged, purge_failed, purge_finished_at)"
		   " VALUES ($12, $1, pg_catalog.clock_timestamp(), $2, $3, $4, $5, $6, $7, $8,"
		   "  $9::pg_catalog.jsonb, $10::pg_catalog.jsonb, $11::pg_catalog.jsonb,"
		   "  'completed', pg_catalog.pg_current_xact_id(), pg_catalog.inet_client_addr(),"
		   "  pg_catalog.current_setting('application_name'), $13,"
		   "  CASE WHEN $14 THEN 0 END, CASE WHEN $14 THEN 0 END,"
		   "  CASE WHEN $14 THEN pg_catalog.clock_timestamp() END)",
		   14, argtypes, values, NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(s);
	return id;
}
