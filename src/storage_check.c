/*-------------------------------------------------------------------------
 *
 * storage_check.c
 *	  reset_storage_check(): a live probe of the configured storage, and
 *	  its briefly cached result in the plan.
 *
 * Network I/O never happens in a backend (a backend may hold a reset's
 * locks, and a stuck request there would hold them too), so the probe
 * runs in a short-lived background worker: the backend creates a dynamic
 * shared memory segment, starts the worker, waits for it to exit and reads
 * the answer from the segment.  The worker also records the answer in
 * reset_system.storage_checks (on a primary), which is the cache the plan
 * reads: a plan made within reset_system.storage_check_cache of the last
 * check shows that check instead of probing again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "storage/dsm.h"
#include "storage/ipc.h"
#include "tcop/tcopprot.h"
#include "commands/dbcommands.h"
#include "utils/builtins.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "internal.h"
#include "reset_system.h"
#include "storage_check.h"
#include "storage_config.h"
#include "storage_sample.h"

/* how long the check worker waits for a lock before giving up on it */
#define RS_CHECK_LOCK_TIMEOUT "2s"

PG_FUNCTION_INFO_V1(reset_storage_check);

#define RS_CHECK_ANSWER_SIZE 16384

/*
 * The segment shared with the check worker.  The backend hands over the
 * configuration it sees (its own transaction may have changed it without
 * committing yet), the worker writes the answer after it.
 */
typedef struct CheckShared
{
	Oid			dboid;
	int			timeout_ms;
	char		backend[NAMEDATALEN];
	Size		options_off;	/* offsets into data */
	Size		key_off;		/* the cache key the answer is kept under */
	Size		answer_off;
	Size		answer_room;
	bool		answered;		/* set by the worker when the answer is complete */
	TimestampTz checked_at;
	Size		len;
	char		data[FLEXIBLE_ARRAY_MEMBER];
} CheckShared;

/*
 * one_line: text safe for the tab-separated answer (and one line long).
 */
static char *
one_line(const char *s)
{
	char	   *out = pstrdup(s ? s : "");

	for (char *p = out; *p; p++)
		if (*p == '\t' || *p == '\n' || *p == '\r')
			*p = ' ';
	return out;
}

/*
 * write_answer: the checks, into the shared segment (cut to fit).
 */
static void
write_answer(CheckShared *sh, List *checks)
{
	StringInfoData buf;
	ListCell   *lc;
	Size		room = sh->answer_room - 1;
	char	   *answer = sh->data + sh->answer_off;

	initStringInfo(&buf);
	foreach(lc, checks)
	{
		RsCheck    *c = (RsCheck *) lfirst(lc);
		char	   *line = psprintf("%s\t%c\t%.2000s\n", c->name, c->ok ? 't' : 'f', one_line(c->detail));

		if (buf.len + strlen(line) > room)
			break;
		appendStringInfoString(&buf, line);
	}
	memcpy(answer, buf.data, buf.len);
	answer[buf.len] = '\0';
	sh->len = buf.len;
	sh->checked_at = GetCurrentTimestamp();
	pg_write_barrier();
	sh->answered = true;
}

/*
 * record: keep the answer in reset_system.storage_checks (the plan's
 * cache), with the last hundred checks.
 */
static void
record(const char *location, List *checks, TimestampTz at)
{
	ListCell   *lc;

	foreach(lc, checks)
	{
		RsCheck    *c = (RsCheck *) lfirst(lc);
		Oid			argtypes[5] = {TIMESTAMPTZOID, TEXTOID, TEXTOID, BOOLOID, TEXTOID};
		Datum		values[5];

		values[0] = TimestampTzGetDatum(at);
		values[1] = CStringGetTextDatum(location);
		values[2] = CStringGetTextDatum(c->name);
		values[3] = BoolGetDatum(c->ok);
		values[4] = CStringGetTextDatum(c->detail ? c->detail : "");
		rs_spi("INSERT INTO reset_system.storage_checks (checked_at, location, check_name, ok, detail)"
			   " VALUES ($1, $2, $3, $4, $5)",
			   5, argtypes, values, NULL, false, SPI_OK_INSERT);
	}
	/*
	 * Older answers go, but only those nobody holds: the backend that waits
	 * for this worker may have changed them in its open transaction, and
	 * waiting for it here would wait for ever (it waits for us).
	 */
	rs_spi("DELETE FROM reset_system.storage_checks WHERE id OPERATOR(pg_catalog.=) ANY (ARRAY("
		   " SELECT id FROM reset_system.storage_checks WHERE id OPERATOR(pg_catalog.<) ("
		   "  SELECT pg_catalog.min(id) FROM (SELECT id FROM reset_system.storage_checks"
		   "   ORDER BY id DESC LIMIT 100) newest)"
		   " FOR UPDATE SKIP LOCKED))",
		   0, NULL, NULL, NULL, false, SPI_OK_DELETE);
}

/*
 * probe: the driver's live checks, closing its session on error too.  A
 * local backend also checks the directories where a purge would act,
 * sampled from the keys of the rows a reset deletes.
 */
static List *
probe(const RsStorageDriver *driver, const char *options)
{
	void	   *state = driver->open(options);
	List	   *volatile checks = NIL;

	PG_TRY();
	{
		checks = driver->probe(state);
		if (driver->check_dirs)
		{
			RsDirSample *sample = rs_storage_sample_dirs(RS_SAMPLE_DIRS);

			if (sample->error)
				checks = lappend(checks,
								 rs_check_new("directories", false,
											  psprintf("could not sample the keys of deleted rows: %s",
													   sample->error)));
			else
				checks = list_concat(checks, driver->check_dirs(state, sample->dirs,
																rs_storage_sample_describe(sample)));
		}
	}
	PG_FINALLY();
	{
		driver->close(state);
	}
	PG_END_TRY();
	return checks;
}

/*
 * rs_storage_check_main: entry point of the check worker.
 */
void
rs_storage_check_main(Datum arg)
{
	dsm_segment *seg;
	CheckShared *sh;
	const RsStorageDriver *driver;
	List	   *checks = NIL;

	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	seg = dsm_attach(DatumGetUInt32(arg));
	if (seg == NULL)
		proc_exit(0);			/* the backend gave up waiting */
	sh = (CheckShared *) dsm_segment_address(seg);
	BackgroundWorkerInitializeConnectionByOid(sh->dboid, InvalidOid, 0);
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION);
	/*
	 * The backend that started this worker waits for it, so a lock that
	 * backend holds (an application table it altered in its open
	 * transaction, say) must never be waited for without end: the sample
	 * gives up on it and says so.
	 */
	SetConfigOption("lock_timeout", RS_CHECK_LOCK_TIMEOUT, PGC_USERSET, PGC_S_SESSION);
	rs_storage_timeout_ms = Min(rs_storage_timeout_ms, sh->timeout_ms);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "reset_system storage check");

	driver = rs_storage_driver(sh->backend, true);
	if (driver == NULL)
		checks = list_make1(rs_check_new("configured", false,
										 psprintf("storage backend \"%s\" is not known to this version", sh->backend)));
	else
		checks = probe(driver, sh->data + sh->options_off);
	write_answer(sh, checks);
	if (!RecoveryInProgress())
		record(sh->data + sh->key_off, checks, sh->checked_at);

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
	dsm_detach(seg);
	proc_exit(0);
}

/*
 * rs_storage_check_run: run the check worker and wait for its answer,
 * which it keeps in reset_system.storage_checks under cache_key (see
 * rs_storage_check_key).  Returns NULL (with *why set) when it could not
 * run.
 */
List *
rs_storage_check_run(RsStorageConfig *cfg, const char *cache_key, int timeout_ms,
					 TimestampTz *checked_at, char **why)
{
	dsm_segment *seg;
	CheckShared *sh;
	BackgroundWorker w;
	BackgroundWorkerHandle *handle;
	BgwHandleStatus status;
	pid_t		pid;
	List	   *volatile checks = NIL;	/* set before PG_TRY: -Wclobbered */
	char	   *copy;
	char	   *line;
	char	   *save;
	Size		olen = strlen(cfg->options) + 1;
	Size		llen = strlen(cache_key) + 1;

	*why = NULL;
	seg = dsm_create(offsetof(CheckShared, data) + olen + llen + RS_CHECK_ANSWER_SIZE, 0);
	sh = (CheckShared *) dsm_segment_address(seg);
	memset(sh, 0, offsetof(CheckShared, data));
	sh->dboid = MyDatabaseId;
	sh->timeout_ms = timeout_ms;
	strlcpy(sh->backend, cfg->backend, NAMEDATALEN);
	sh->options_off = 0;
	memcpy(sh->data, cfg->options, olen);
	sh->key_off = olen;
	memcpy(sh->data + olen, cache_key, llen);
	sh->answer_off = olen + llen;
	sh->answer_room = RS_CHECK_ANSWER_SIZE;

	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_ConsistentState;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "reset_system");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "rs_storage_check_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "reset_system storage check for database %u", MyDatabaseId);
	snprintf(w.bgw_type, BGW_MAXLEN, "reset_system storage check");
	w.bgw_main_arg = UInt32GetDatum(dsm_segment_handle(seg));
	w.bgw_notify_pid = MyProcPid;

	if (!RegisterDynamicBackgroundWorker(&w, &handle))
	{
		dsm_detach(seg);
		*why = pstrdup("no free background worker slot (raise max_worker_processes)");
		return NULL;
	}
	/* a cancel while waiting stops the worker too */
	PG_TRY();
	{
		status = WaitForBackgroundWorkerStartup(handle, &pid);
		if (status == BGWH_STARTED)
			status = WaitForBackgroundWorkerShutdown(handle);
	}
	PG_CATCH();
	{
		TerminateBackgroundWorker(handle);
		PG_RE_THROW();
	}
	PG_END_TRY();
	if (status == BGWH_POSTMASTER_DIED)
		ereport(FATAL,
				(errcode(ERRCODE_ADMIN_SHUTDOWN),
				 errmsg("postmaster exited during a reset_system storage check")));

	pg_read_barrier();
	if (!sh->answered)
	{
		dsm_detach(seg);
		*why = pstrdup("the check worker ended without an answer (see the server log)");
		return NULL;
	}
	*checked_at = sh->checked_at;
	copy = pnstrdup(sh->data + sh->answer_off, sh->len);
	dsm_detach(seg);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
	{
		char	   *t1 = strchr(line, '\t');
		char	   *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;

		if (t2 == NULL)
			continue;
		*t1 = '\0';
		*t2 = '\0';
		checks = lappend(checks, rs_check_new(pstrdup(line), t1[1] == 't', pstrdup(t2 + 1)));
	}
	return checks;
}

/*
 * rs_storage_check_key: what a check is kept under.  A plan's check also
 * looks where that plan's purge would act (the directories of its keys),
 * so it is only reused by a plan with the same token (the same
 * configuration and structure); a check run on its own is kept under the
 * location alone.
 */
char *
rs_storage_check_key(RsStorageConfig *cfg, const char *plan_token)
{
	if (plan_token == NULL)
		return pstrdup(cfg->location);
	return psprintf("%s (plan %s)", cfg->location, plan_token);
}

/*
 * rs_storage_check_cached: the last check kept under cache_key if it is
 * at most max_age_ms old, else NIL.  Runs inside the caller's SPI
 * connection.
 */
List *
rs_storage_check_cached(RsSession *s, const char *cache_key, int max_age_ms,
						TimestampTz *checked_at)
{
	Oid			argtypes[2] = {TEXTOID, TIMESTAMPTZOID};
	Datum		values[2];
	List	   *checks = NIL;
	int			n;

	values[0] = CStringGetTextDatum(cache_key);
	values[1] = TimestampTzGetDatum(TimestampTzPlusMilliseconds(GetCurrentTimestamp(), -max_age_ms));
	rs_as_owner_begin(s);
	n = rs_spi("SELECT check_name, ok, detail, checked_at FROM reset_system.storage_checks"
			   " WHERE checked_at OPERATOR(pg_catalog.=) ("
			   "   SELECT pg_catalog.max(checked_at) FROM reset_system.storage_checks"
			   "    WHERE location OPERATOR(pg_catalog.=) $1)"
			   "   AND location OPERATOR(pg_catalog.=) $1"
			   "   AND checked_at OPERATOR(pg_catalog.>=) $2"
			   " ORDER BY id",
			   2, argtypes, values, NULL, true, SPI_OK_SELECT);
	for (int i = 0; i < n; i++)
	{
		bool		isnull;

		checks = lappend(checks, rs_check_new(rs_spi_text(i, 0), rs_spi_bool(i, 1),
											  rs_spi_isnull(i, 2) ? pstrdup("") : rs_spi_text(i, 2)));
		*checked_at = DatumGetTimestampTz(rs_spi_datum(i, 3, &isnull));
	}
	rs_as_owner_end(s);
	return checks;
}

/*
 * reset_storage_check() returns setof (check_name, ok, detail, checked_at)
 */
Datum
reset_storage_check(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Tuplestorestate *store = rs_srf_begin(fcinfo, &tupdesc);
	RsSession	s;
	RsStorageConfig *cfg;
	List	   *checks;
	TimestampTz at = 0;
	char	   *why;
	ListCell   *lc;

	rs_enter(&s);
	SPI_connect();
	cfg = rs_storage_config_load(&s);
	SPI_finish();
	if (cfg == NULL || cfg->backend == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("no storage backend is configured in database \"%s\"", get_database_name(MyDatabaseId)),
				 errhint("Configure one first, e.g. SELECT reset_configure_storage('s3', '{\"bucket\": \"my-app-uploads\", \"region\": \"eu-west-1\"}');")));

	checks = rs_storage_check_run(cfg, rs_storage_check_key(cfg, NULL), rs_storage_timeout_ms, &at, &why);
	if (checks == NIL && why)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_RESOURCES),
				 errmsg("could not run the storage check: %s", why)));
	foreach(lc, checks)
	{
		RsCheck    *c = (RsCheck *) lfirst(lc);
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(c->name);
		values[1] = BoolGetDatum(c->ok);
		values[2] = CStringGetTextDatum(c->detail);
		values[3] = TimestampTzGetDatum(at);
		tuplestore_putvalues(store, tupdesc, values, nulls);
	}
	rs_leave(&s);
	return (Datum) 0;
}
