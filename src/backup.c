/*-------------------------------------------------------------------------
 *
 * backup.c
 *	  The undo window: a reset may first copy the rows it is about to delete
 *	  into a schema of its own (reset_backup_<reset id>), in its own
 *	  transaction, so that reset_restore() can put them back; backups are
 *	  listed, dropped, and kept to the last reset_system.backup_keep.
 *
 * The copy is one CREATE TABLE ... AS SELECT per table (every leaf table:
 * a partitioned table's partitions, an inheritance parent and each child
 * with its own columns), made under the reset's exclusive locks, so it is
 * exactly what the reset deletes.  CREATE TABLE AS writes through the bulk
 * insert path into a table created in the same transaction, the fastest
 * way PostgreSQL copies rows inside one transaction (test/bench measures
 * it against INSERT ... SELECT).  The backup tables are ordinary, logged
 * tables: they survive a crash, replicate to standbys and are dumped.
 *
 * What restore needs to check and replay is recorded in
 * reset_system.backups: per table its name, OID, backup table, rows and
 * column list (name and type), and the owned sequences' last values.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

#include "backup.h"
#include "purge_totals.h"
#include "guards.h"
#include "render.h"
#include "reset_system.h"

PG_FUNCTION_INFO_V1(reset_backups);
PG_FUNCTION_INFO_V1(reset_backup_drop);

/* Settings (reset_system.c) */
bool		rs_backup_default = false;
int			rs_backup_keep = 3;
int			rs_purge_delay_s = 0;

/*
 * rs_backup_schema_name: the schema of a reset's backup.
 */
char *
rs_backup_schema_name(int64 reset_id)
{
	return psprintf("reset_backup_" INT64_FORMAT, reset_id);
}

/*
 * rs_backup_columns: the table's columns as JSON [[name, type], ...]
 * (dropped columns left out), the shape restore compares.
 */
char *
rs_backup_columns(Oid relid)
{
	StringInfoData b;
	StringInfo	buf = &b;

	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	int			n;

	initStringInfo(buf);
	values[0] = ObjectIdGetDatum(relid);
	n = rs_spi("SELECT attname::pg_catalog.text, pg_catalog.format_type(atttypid, atttypmod)"
			   " FROM pg_catalog.pg_attribute"
			   " WHERE attrelid OPERATOR(pg_catalog.=) $1 AND attnum OPERATOR(pg_catalog.>) 0"
			   "   AND NOT attisdropped ORDER BY attnum",
			   1, argtypes, values, NULL, true, SPI_OK_SELECT);
	appendStringInfoChar(buf, '[');
	for (int i = 0; i < n; i++)
	{
		char	   *name = rs_spi_text(i, 0);
		char	   *type = rs_spi_text(i, 1);

		appendStringInfoString(buf, i ? ", [" : "[");
		escape_json(buf, name);
		appendStringInfoString(buf, ", ");
		escape_json(buf, type);
		appendStringInfoChar(buf, ']');
	}
	appendStringInfoChar(buf, ']');
	return buf->data;
}

/*
 * sequences_json: the last values of the sequences the reset restarts.
 */
static char *
sequences_json(List *seqs)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '[');
	foreach(lc, seqs)
	{
		Oid			seq = lfirst_oid(lc);
		char	   *qname = rs_qualified_name(seq, true);

		if (qname == NULL)
			continue;
		rs_spi(psprintf("SELECT last_value, is_called FROM %s", qname),
			   0, NULL, NULL, NULL, true, SPI_OK_SELECT);
		appendStringInfoString(&buf, first ? "{\"sequence\": " : ", {\"sequence\": ");
		escape_json(&buf, qname);
		appendStringInfo(&buf, ", \"last_value\": " INT64_FORMAT ", \"is_called\": %s}",
						 rs_spi_int64(0, 0, 0), rs_spi_bool(0, 1) ? "true" : "false");
		first = false;
	}
	appendStringInfoChar(&buf, ']');
	return buf.data;
}

/*
 * rs_backup_take: copy every table the reset empties into
 * reset_backup_<reset_id>, record it, and add a line to the report.
 * Runs under the reset's locks, before anything is deleted.
 */
void
rs_backup_take(RsSession *s, RsPlan *plan, int64 reset_id, List *sequences, StringInfo report)
{
	char	   *schema = rs_backup_schema_name(reset_id);
	char	   *qschema = pstrdup(quote_identifier(schema));
	StringInfoData tables;
	ListCell   *lc;
	int			ntables = 0;
	int64		rows = 0;
	int64		size;
	TimestampTz t0 = GetCurrentTimestamp();
	double		secs;
	Oid			argtypes[8] = {INT8OID, NAMEOID, TEXTOID, TEXTOID, INT8OID, INT8OID, FLOAT8OID, NAMEOID};
	Datum		values[8];

	if (get_namespace_oid(schema, true) != InvalidOid)
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_SCHEMA),
				 errmsg("schema \"%s\" for the backup of reset " INT64_FORMAT " already exists", schema, reset_id),
				 errdetail("A schema of that name was not made by this reset. Nothing was changed."),
				 errhint("Rename or drop that schema, then run the reset again.")));

	initStringInfo(&tables);
	appendStringInfoChar(&tables, '[');
	rs_as_owner_begin(s);
	rs_spi(psprintf("CREATE SCHEMA %s", qschema), 0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
	rs_spi(psprintf("COMMENT ON SCHEMA %s IS %s", qschema,
					quote_literal_cstr(psprintf("rows deleted by reset " INT64_FORMAT ", for reset_restore()", reset_id))),
		   0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
	rs_spi(psprintf("REVOKE ALL ON SCHEMA %s FROM PUBLIC", qschema), 0, NULL, NULL, NULL, false, SPI_OK_UTILITY);

	foreach(lc, plan->effective_delete)
	{
		Oid			relid = lfirst_oid(lc);
		char	   *qname;
		char	   *backup;
		int64		n;

		/* partitioned tables hold no rows of their own: their partitions do */
		if (get_rel_relkind(relid) != RELKIND_RELATION)
			continue;
		qname = rs_qualified_name(relid, true);
		backup = psprintf("t%d_%s", ++ntables, get_rel_name(relid));
		if (strlen(backup) >= NAMEDATALEN)
			backup[NAMEDATALEN - 1] = '\0';
		rs_spi(psprintf("CREATE TABLE %s.%s AS SELECT * FROM ONLY %s", qschema, quote_identifier(backup), qname),
			   0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
		n = (int64) SPI_processed;
		rows += n;
		appendStringInfoString(&tables, ntables > 1 ? ", {\"table\": " : "{\"table\": ");
		escape_json(&tables, rs_qualified_name(relid, false));
		appendStringInfoString(&tables, ", \"qname\": ");
		escape_json(&tables, qname);
		appendStringInfo(&tables, ", \"relid\": %u, \"backup\": ", relid);
		escape_json(&tables, backup);
		appendStringInfo(&tables, ", \"rows\": " INT64_FORMAT ", \"columns\": ", n);
		appendStringInfoString(&tables, rs_backup_columns(relid));
		appendStringInfoChar(&tables, '}');
	}
	appendStringInfoChar(&tables, ']');

	rs_spi(psprintf("SELECT COALESCE(pg_catalog.sum(pg_catalog.pg_total_relation_size(c.oid)), 0)::pg_catalog.int8"
					" FROM pg_catalog.pg_class c"
					" WHERE c.relnamespace OPERATOR(pg_catalog.=) %u AND c.relkind OPERATOR(pg_catalog.=) 'r'",
					get_namespace_oid(schema, false)),
		   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	size = rs_spi_int64(0, 0, 0);
	secs = (double) (GetCurrentTimestamp() - t0) / 1000000.0;

	values[0] = Int64GetDatum(reset_id);
	values[1] = DirectFunctionCall1(namein, CStringGetDatum(schema));
	values[2] = CStringGetTextDatum(tables.data);
	values[3] = CStringGetTextDatum(sequences_json(sequences));
	values[4] = Int64GetDatum(rows);
	values[5] = Int64GetDatum(size);
	values[6] = Float8GetDatum(secs);
	values[7] = DirectFunctionCall1(namein, CStringGetDatum(GetUserNameFromId(s->caller_role, false)));
	rs_spi("INSERT INTO reset_system.backups (reset_id, schema_name, taken_at, role_name, tables, sequences,"
		   " rows, size_bytes, copy_seconds)"
		   " VALUES ($1, $2, pg_catalog.now(), $8, $3::pg_catalog.jsonb, $4::pg_catalog.jsonb, $5, $6, $7)",
		   8, argtypes, values, NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(s);

	appendStringInfo(report, "Backed up %s row(s) of %d table(s) into schema %s (%s, %.2f s).\n",
					 rs_format_count(rows), ntables, schema,
					 rs_format_size(size), secs);
	ereport(NOTICE, (errmsg_internal("Backed up %s row(s) of %d table(s) into schema %s (%s, %.2f s).",
									 rs_format_count(rows), ntables, schema,
									 rs_format_size(size),
									 secs)));
}

/*
 * rs_backup_schema_problem: why the schema a backup record names must not
 * be touched, or NULL when it is the backup's own.  *nspoid is set to the
 * schema (InvalidOid when it no longer exists).
 *
 * reset_system.backups is dumped and can be edited, so its schema_name is
 * not trusted for DDL: it must be exactly the name a reset gives its backup
 * (reset_backup_<reset id>, never pg_catalog, public or an application's
 * schema), and the schema of that name must be owned by the extension's
 * owner (a reset creates it as that role) and hold nothing but tables (and
 * indexes on them): no views, sequences, functions or types of its own.
 */
char *
rs_backup_schema_problem(RsSession *s, int64 reset_id, const char *stored, Oid *nspoid)
{
	char	   *expected = rs_backup_schema_name(reset_id);
	Oid			nsp;
	Oid			owner;
	int64		others;

	*nspoid = InvalidOid;
	if (stored == NULL || strcmp(stored, expected) != 0)
		return psprintf("its schema_name %s is not %s, the schema a reset makes for its backup",
						stored ? quote_literal_cstr(stored) : "NULL", expected);
	nsp = get_namespace_oid(expected, true);
	if (!OidIsValid(nsp))
		return NULL;
	/* not read-only: a schema this very reset made must be seen */
	if (rs_spi("SELECT n.nspowner,"
		   " (SELECT pg_catalog.count(*) FROM pg_catalog.pg_class c WHERE c.relnamespace OPERATOR(pg_catalog.=) n.oid"
		   "   AND c.relkind OPERATOR(pg_catalog.<>) ALL (ARRAY['r', 'i']::pg_catalog.\"char\"[]))"
		   " OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_proc p"
		   "   WHERE p.pronamespace OPERATOR(pg_catalog.=) n.oid)"
		   " OPERATOR(pg_catalog.+) (SELECT pg_catalog.count(*) FROM pg_catalog.pg_type t"
		   "   WHERE t.typnamespace OPERATOR(pg_catalog.=) n.oid AND t.typrelid OPERATOR(pg_catalog.=) 0"
		   "   AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type e WHERE e.oid OPERATOR(pg_catalog.=) t.typelem"
		   "                    AND e.typrelid OPERATOR(pg_catalog.<>) 0))"
		   " FROM pg_catalog.pg_namespace n WHERE n.oid OPERATOR(pg_catalog.=) $1",
			   1, (Oid[]) {OIDOID}, (Datum[]) {ObjectIdGetDatum(nsp)}, NULL, false, SPI_OK_SELECT) == 0)
		return psprintf("schema %s could not be read", expected);
	owner = rs_spi_oid(0, 0);
	others = rs_spi_int64(0, 1, 0);
	if (owner != s->ext_owner)
		return psprintf("schema %s is owned by role %s, not by %s, the owner of the extension that makes backups",
						expected, quote_identifier(GetUserNameFromId(owner, true) ? GetUserNameFromId(owner, true) : "?"),
						quote_identifier(GetUserNameFromId(s->ext_owner, false)));
	if (others > 0)
		return psprintf("schema %s holds " INT64_FORMAT " object(s) other than tables, which a backup never makes",
						expected, others);
	*nspoid = nsp;
	return NULL;
}

/*
 * drop_backup: drop a backup's schema and mark it dropped.  Returns false
 * when there is no such backup (or it is already dropped).  A record whose
 * schema is not the backup's own (rs_backup_schema_problem) is refused:
 * an ERROR when strict, else a WARNING, and the record is left as it is.
 */
static bool
drop_backup(RsSession *s, int64 reset_id, const char *why, bool strict)
{
	Oid			argtypes[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	char	   *stored;
	char	   *problem;
	Oid			nsp;
	int			nest;

	values[0] = Int64GetDatum(reset_id);
	values[1] = CStringGetTextDatum(why);
	if (rs_spi("SELECT schema_name::pg_catalog.text FROM reset_system.backups"
			   " WHERE reset_id OPERATOR(pg_catalog.=) $1 AND dropped_at IS NULL FOR UPDATE",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT) == 0)
		return false;
	stored = rs_spi_text(0, 0);
	problem = rs_backup_schema_problem(s, reset_id, stored, &nsp);
	if (problem != NULL)
	{
		ereport(strict ? ERROR : WARNING,
				(errcode(ERRCODE_DATA_CORRUPTED),
				 errmsg("the backup of reset " INT64_FORMAT " cannot be dropped: %s", reset_id, problem),
				 errdetail("Only a schema made by a reset for its backup is ever dropped; nothing was dropped."),
				 errhint("Correct reset_system.backups.schema_name of reset " INT64_FORMAT " to %s, or drop or "
						 "rename schema %s yourself if it is not a backup, then run SELECT reset_backup_drop(" INT64_FORMAT ");",
						 reset_id, rs_backup_schema_name(reset_id), rs_backup_schema_name(reset_id), reset_id)));
		return false;
	}
	rs_spi("UPDATE reset_system.backups SET dropped_at = pg_catalog.now(), dropped_why = $2"
		   " WHERE reset_id OPERATOR(pg_catalog.=) $1",
		   2, argtypes, values, NULL, false, SPI_OK_UPDATE);
	if (!OidIsValid(nsp))
		return true;
	/* without the "drop cascades to table ..." NOTICE for every table */
	nest = NewGUCNestLevel();
	(void) set_config_option("client_min_messages", "warning", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	rs_spi(psprintf("DROP SCHEMA %s CASCADE", quote_identifier(rs_backup_schema_name(reset_id))),
		   0, NULL, NULL, NULL, false, SPI_OK_UTILITY);
	AtEOXact_GUC(true, nest);
	return true;
}

/*
 * rs_backup_retain: keep the newest reset_system.backup_keep backups (0:
 * all), dropping older ones in the reset's transaction, so they are gone
 * only if the reset commits.
 */
void
rs_backup_retain(RsSession *s, StringInfo report)
{
	Oid			argtypes[1] = {INT4OID};
	Datum		values[1];
	int			n;
	int64	   *ids;

	if (rs_backup_keep <= 0)
		return;
	values[0] = Int32GetDatum(rs_backup_keep);
	rs_as_owner_begin(s);
	n = rs_spi("SELECT reset_id FROM reset_system.backups WHERE dropped_at IS NULL"
			   " ORDER BY reset_id DESC OFFSET $1",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);
	ids = palloc(sizeof(int64) * Max(n, 1));
	for (int i = 0; i < n; i++)
		ids[i] = rs_spi_int64(i, 0, 0);
	for (int i = 0; i < n; i++)
	{
		char	   *line;

		if (!drop_backup(s, ids[i], psprintf("reset_system.backup_keep = %d", rs_backup_keep), false))
			continue;
		line = psprintf("Dropped the backup of reset " INT64_FORMAT " (reset_system.backup_keep = %d).",
						ids[i], rs_backup_keep);
		ereport(NOTICE, (errmsg_internal("%s", line)));
		appendStringInfo(report, "%s\n", line);
	}
	rs_as_owner_end(s);
}

/* " and N prefix(es)" when prefixes are still to be listed (purge_totals.h counts) */
#define RS_BACKUP_PREFIXES_PENDING \
	"CASE WHEN q.prefixes_pending OPERATOR(pg_catalog.>) 0" \
	" THEN ' and ' || q.prefixes_pending || ' prefix(es)' ELSE '' END"

/*
 * reset_backups() returns setof (reset_id, taken_at, schema_name, tables,
 * rows, size_bytes, purge, restored_at, dropped_at)
 */
Datum
reset_backups(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Tuplestorestate *store = rs_srf_begin(fcinfo, &tupdesc);
	RsSession	s;
	int			n;

	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	n = rs_spi("SELECT b.reset_id, b.taken_at, b.schema_name, pg_catalog.jsonb_array_length(b.tables), b.rows, b.size_bytes,"
			   " CASE WHEN q.pending OPERATOR(pg_catalog.+) q.prefixes_pending OPERATOR(pg_catalog.>) 0"
			   "       AND q.held OPERATOR(pg_catalog.>) 0"
			   "        THEN q.pending || ' object(s)' || " RS_BACKUP_PREFIXES_PENDING " || ' held by reset_system.purge_delay'"
			   "      WHEN q.pending OPERATOR(pg_catalog.+) q.prefixes_pending OPERATOR(pg_catalog.>) 0"
			   "        THEN q.pending || ' object(s)' || " RS_BACKUP_PREFIXES_PENDING " || ' pending, first at ' || q.next_at"
			   "      WHEN q.objects OPERATOR(pg_catalog.+) q.prefixes OPERATOR(pg_catalog.=) 0 THEN 'nothing to purge'"
			   "      ELSE q.purged || ' purged, ' || q.cancelled || ' cancelled, ' || q.failed || ' failed' END,"
			   " (SELECT pg_catalog.max(r.restored_at) FROM reset_system.restores r"
			   "   WHERE r.reset_id OPERATOR(pg_catalog.=) b.reset_id),"
			   " b.dropped_at"
			   " FROM reset_system.backups b,"
			   " LATERAL (SELECT" RS_PURGE_TOTALS_SELECT ","
			   "   pg_catalog.count(*) FILTER (WHERE hold_for IS NOT NULL) AS held,"
			   "   pg_catalog.min(next_attempt_at) FILTER (WHERE state OPERATOR(pg_catalog.=) 'pending') AS next_at"
			   "   FROM reset_system.purge_queue pq WHERE pq.reset_id OPERATOR(pg_catalog.=) b.reset_id) q"
			   " ORDER BY b.reset_id DESC",
			   0, NULL, NULL, NULL, true, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		Datum		values[9];
		bool		nulls[9];

		for (int c = 0; c < 9; c++)
			values[c] = rs_spi_datum(i, c, &nulls[c]);
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);
	return (Datum) 0;
}

/*
 * reset_backup_drop(reset_id bigint) returns text
 */
Datum
reset_backup_drop(PG_FUNCTION_ARGS)
{
	int64		reset_id;
	RsSession	s;
	bool		dropped;
	char	   *result;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("reset_backup_drop needs the id of a reset")));
	reset_id = PG_GETARG_INT64(0);
	rs_guard_writable("drop a backup");
	rs_enter(&s);
	SPI_connect();
	rs_as_owner_begin(&s);
	dropped = drop_backup(&s, reset_id, psprintf("reset_backup_drop() by %s",
												  GetUserNameFromId(s.caller_role, false)), true);
	rs_as_owner_end(&s);
	if (!dropped)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("reset " INT64_FORMAT " has no backup to drop", reset_id),
				 errhint("SELECT * FROM reset_backups(); lists the backups and those already dropped.")));
	result = rs_copy_out(psprintf("Dropped the backup of reset " INT64_FORMAT " (schema %s).",
								  reset_id, rs_backup_schema_name(reset_id)));
	SPI_finish();
	rs_leave(&s);
	PG_RETURN_TEXT_P(cstring_to_text(result));
}
