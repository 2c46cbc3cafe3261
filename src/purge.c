/*-------------------------------------------------------------------------
 *
 * purge.c
 *	  One round of the purge worker: claim a batch of due queue rows, act
 *	  on storage through the configured backend, record the outcome, and
 *	  commit.
 *
 * Rows are claimed with FOR UPDATE SKIP LOCKED inside the round's
 * transaction and their outcome is written in the same transaction, so a
 * crash at any point leaves them pending (nothing is lost) and two workers
 * never work on the same row.  Delivery is at least once; every backend
 * treats "already gone" as done, so a repeated delete is harmless.
 *
 * Before deleting, keys that a row of a registered table references again
 * (the application may have re-created the same key since the reset) are
 * kept, never deleted.
 *
 * A transient failure is retried with exponential backoff and jitter
 * (reset_system.purge_retry_base, reset_system.purge_retry_max) up to
 * reset_system.purge_max_attempts; then the row is "failed" with the
 * error text.  Nothing is dropped silently.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/lmgr.h"
#include "storage/itemptr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include <sys/stat.h>

#include "compat.h"
#include "config.h"
#include "transfer.h"
#include "journal.h"
#include "notify.h"
#include "purge.h"
#include "purge_totals.h"
#include "queue.h"
#include "reset_system.h"
#include "seed.h"
#include "storage_config.h"

/* Outcome labels recorded in purge_queue.outcome */
#define OUTCOME_DELETED		"deleted"
#define OUTCOME_MISSING		"already gone"
#define OUTCOME_KEPT		"kept: referenced again"
#define OUTCOME_UPLOADED	"uploaded"

/* A claimed queue row */
typedef struct QueueRow
{
	ItemPointerData ctid;		/* stable while the row is locked */
	int64		id;
	int64		reset_id;
	char	   *kind;			/* "object", "prefix" or "upload" */
	char	   *key;
	char	   *source;			/* upload: the file to send */
	char	   *phase;
	int			attempts;
} QueueRow;

/* Outcomes to write back, as parallel arrays */
typedef struct Outcomes
{
	int			n;
	ItemPointerData *ctids;
	int64	   *ids;
	char	  **states;
	char	  **outcomes;
	char	  **errors;
	int64	   *delays_ms;
	int64	   *tried;
} Outcomes;

/*
 * retry_delay_ms: exponential backoff with jitter for the given attempt
 * number (1 = first retry): half the capped exponential delay, plus a
 * random share of the other half.
 */
static int64
retry_delay_ms(int attempt)
{
	double		delay = (double) rs_purge_retry_base_ms;

	for (int i = 1; i < attempt && delay < rs_purge_retry_max_ms; i++)
		delay *= 2;
	delay = Min(delay, (double) rs_purge_retry_max_ms);
	return (int64) (delay / 2 + rs_random_fraction() * delay / 2);
}

/*
 * outcome_add: record what happened to one row.
 */
static void
outcome_add(Outcomes *o, QueueRow *row, RsObjectResult result, const char *outcome,
			const char *error, bool counts_as_attempt)
{
	int			i = o->n++;
	int			attempts = row->attempts + (counts_as_attempt ? 1 : 0);

	o->ids[i] = row->id;
	o->ctids[i] = row->ctid;
	o->errors[i] = error ? pstrdup(error) : NULL;
	o->outcomes[i] = outcome ? pstrdup(outcome) : NULL;
	o->delays_ms[i] = 0;
	o->tried[i] = counts_as_attempt ? 1 : 0;
	switch (result)
	{
		case RS_OBJ_DELETED:
		case RS_OBJ_MISSING:
			o->states[i] = "done";
			break;
		case RS_OBJ_FAILED:
			o->states[i] = "failed";
			break;
		case RS_OBJ_RETRY:
		default:
			if (attempts >= rs_purge_max_attempts)
			{
				o->states[i] = "failed";
				o->errors[i] = psprintf("gave up after %d attempt(s): %s", attempts,
										error ? error : "unknown error");
			}
			else
			{
				o->states[i] = "pending";
				o->delays_ms[i] = retry_delay_ms(attempts);
			}
			break;
	}
}

/*
 * outcomes_write: one UPDATE for the whole batch.  The rows are found by
 * their ctid (a TID scan, whatever the planner's statistics say about a
 * queue that just grew by 100,000 rows); the ctids cannot change while
 * this transaction holds the rows locked.
 */
static void
outcomes_write(Outcomes *o)
{
	Oid			argtypes[7] = {INT8ARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
		INT8ARRAYOID, INT8ARRAYOID, TIDARRAYOID};
	Datum		values[7];
	Datum	   *tids;

	if (o->n == 0)
		return;
	tids = palloc(sizeof(Datum) * o->n);
	for (int i = 0; i < o->n; i++)
		tids[i] = PointerGetDatum(&o->ctids[i]);
	values[0] = rs_int8_array_n(o->ids, o->n);
	values[1] = rs_text_array_n(o->states, o->n);
	values[2] = rs_text_array_n(o->outcomes, o->n);
	values[3] = rs_text_array_n(o->errors, o->n);
	values[4] = rs_int8_array_n(o->delays_ms, o->n);
	values[5] = rs_int8_array_n(o->tried, o->n);
	values[6] = PointerGetDatum(construct_array(tids, o->n, TIDOID, sizeof(ItemPointerData),
												false, TYPALIGN_SHORT));
	rs_spi("UPDATE reset_system.purge_queue q SET"
		   " state = u.state, outcome = u.outcome, last_error = u.error,"
		   " attempts = q.attempts OPERATOR(pg_catalog.+) u.tried::pg_catalog.int4,"
		   " next_attempt_at = CASE WHEN u.state OPERATOR(pg_catalog.=) 'pending'"
		   "   THEN pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+)"
		   "        pg_catalog.make_interval(secs => u.delay_ms OPERATOR(pg_catalog./) 1000.0)"
		   "   ELSE q.next_attempt_at END,"
		   " done_at = CASE WHEN u.state OPERATOR(pg_catalog.<>) 'pending'"
		   "   THEN pg_catalog.clock_timestamp() END"
		   " FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3),"
		   "   pg_catalog.unnest($4), pg_catalog.unnest($5), pg_catalog.unnest($6))"
		   "   AS u(id, state, outcome, error, delay_ms, tried)"
		   " WHERE q.ctid OPERATOR(pg_catalog.=) ANY ($7) AND q.id OPERATOR(pg_catalog.=) u.id",
		   7, argtypes, values, NULL, false, SPI_OK_UPDATE);
}

/*
 * outcomes_alloc: room for n outcomes.
 */
static Outcomes *
outcomes_alloc(int n)
{
	Outcomes   *o = palloc0(sizeof(Outcomes));

	n = Max(n, 1);
	o->ids = palloc(sizeof(int64) * n);
	o->ctids = palloc(sizeof(ItemPointerData) * n);
	o->states = palloc(sizeof(char *) * n);
	o->outcomes = palloc(sizeof(char *) * n);
	o->errors = palloc(sizeof(char *) * n);
	o->delays_ms = palloc(sizeof(int64) * n);
	o->tried = palloc(sizeof(int64) * n);
	return o;
}

/*
 * referenced_sources: the storage columns of every registered table that
 * still exists, as key queries in chunks (rs_queue_key_source_chunks,
 * UNION ALL when all is set), or NIL.
 */
static List *
referenced_sources(bool all)
{
	RsConfig   *cfg = rs_load_config(NULL);
	List	   *tables = NIL;
	ListCell   *lc;

	foreach(lc, cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);

		if (t->storage_columns == NIL)
			continue;
		t->qname = rs_qualified_name(t->relid, true);
		if (t->qname)
			tables = lappend(tables, t);
	}
	return rs_queue_key_source_chunks(tables, all);
}

/*
 * referenced_keys: which of the keys a row of a registered table
 * references now.  Returns a List of the indexes into keys that are.
 */
static List *
referenced_keys(List *sources, char **keys, int n)
{
	Oid			argtypes[1] = {TEXTARRAYOID};
	Datum		values[1];
	List	   *result = NIL;
	ListCell   *lc;

	if (sources == NIL || n == 0)
		return NIL;
	values[0] = rs_text_array_n(keys, n);
	/* a key referenced from several chunks is listed more than once */
	foreach(lc, sources)
	{
		int			found = rs_spi(psprintf("SELECT i::pg_catalog.int4 FROM pg_catalog.unnest($1) WITH ORDINALITY AS q(k, i)"
										   " WHERE q.k IN (%s)", (char *) lfirst(lc)),
								  1, argtypes, values, NULL, false, SPI_OK_SELECT);

		for (int i = 0; i < found; i++)
		{
			bool		isnull;

			result = lappend_int(result, DatumGetInt32(rs_spi_datum(i, 0, &isnull)) - 1);
		}
		SPI_freetuptable(SPI_tuptable);

		/*
		 * Each chunk opens another hundred tables, and the relation and
		 * catalog caches would keep every one of them for the worker's
		 * life: with thousands of tables that is most of its memory.  The
		 * next chunk reads its own tables' entries anew, so the caches
		 * hold one chunk's worth at a time.
		 */
		if (list_length(sources) > 1)
			InvalidateSystemCaches();
	}
	return result;
}

/*
 * error_kind: an object's error without its own key, so that
 * the objects that failed the same way (the same errno text in the same
 * kind of operation, the same HTTP answer) share it.  reset_purge_status()
 * groups the queue's last_error the same way, with replace().
 */
static char *
error_kind(const char *error, const char *key)
{
	StringInfoData buf;
	size_t		klen = strlen(key);
	const char *p = error;
	const char *hit;

	if (klen == 0)
		return pstrdup(error);
	initStringInfo(&buf);
	while ((hit = strstr(p, key)) != NULL)
	{
		appendBinaryStringInfo(&buf, p, hit - p);
		p = hit + klen;
	}
	appendStringInfoString(&buf, p);
	return buf.data;
}

/*
 * note_failures: the objects of the round that were tried and not
 * deleted, the first one's error and how many failed the same way, for
 * the round's WARNING (report_failures).
 */
static void
note_failures(RsObject *objs, int n, QueueRow **rows, int *objrow, RsPurgeRound *r)
{
	char	   *kind = NULL;

	for (int j = 0; j < n; j++)
	{
		RsObject   *o = &objs[j];

		if (o->not_sent)
			continue;
		r->tried++;
		if (o->result != RS_OBJ_RETRY && o->result != RS_OBJ_FAILED)
			continue;
		r->not_deleted++;
		if (o->error == NULL)
			continue;
		if (r->first_error == NULL)
		{
			r->first_error = o->error;
			r->first_reset = rows[objrow[j]]->reset_id;
			r->first_error_share = 1;
			kind = error_kind(o->error, o->key);
		}
		else if (strcmp(error_kind(o->error, o->key), kind) == 0)
			r->first_error_share++;
	}
}

/*
 * purge_objects: delete the object rows of the batch.
 */
static void
purge_objects(const RsStorageDriver *driver, void *state, List *sources,
			  QueueRow **rows, int n, Outcomes *out, RsPurgeRound *r)
{
	char	  **keys = palloc(sizeof(char *) * Max(n, 1));
	bool	   *kept = palloc0(sizeof(bool) * Max(n, 1));
	RsObject   *objs = palloc0(sizeof(RsObject) * Max(n, 1));
	int			nobjs = 0;
	int		   *objrow = palloc(sizeof(int) * Max(n, 1));
	ListCell   *lc;

	for (int i = 0; i < n; i++)
		keys[i] = rows[i]->key;
	foreach(lc, referenced_keys(sources, keys, n))
		kept[lfirst_int(lc)] = true;

	for (int i = 0; i < n; i++)
	{
		if (kept[i])
		{
			outcome_add(out, rows[i], RS_OBJ_DELETED, OUTCOME_KEPT, NULL, false);
			continue;
		}
		objs[nobjs].key = rows[i]->key;
		objrow[nobjs] = i;
		nobjs++;
	}
	if (nobjs > 0)
		driver->delete_objects(state, objs, nobjs);
	for (int j = 0; j < nobjs; j++)
	{
		RsObject   *o = &objs[j];

		/*
		 * Requests held back are a suffix of the batch: the next round
		 * starts with them, not with the rows just tried again, so that a
		 * few failing keys cannot starve the others.
		 */
		if (o->not_sent && j > 0 && !objs[j - 1].not_sent)
		{
			r->after_reset = rows[objrow[j - 1]]->reset_id;
			r->after_id = rows[objrow[j - 1]]->id;
		}

		outcome_add(out, rows[objrow[j]], o->result,
					o->result == RS_OBJ_DELETED ? OUTCOME_DELETED :
					o->result == RS_OBJ_MISSING ? OUTCOME_MISSING : NULL,
					o->error, !o->not_sent);
		if (o->result == RS_OBJ_RETRY)
			r->sent_retry += o->not_sent ? 0 : 1;
		else
			r->sent_ok++;
	}
	note_failures(objs, nobjs, rows, objrow, r);
}

/* State of one prefix listing */
typedef struct ListState
{
	QueueRow   *prefix;
	char	  **keys;
	int			nkeys;
	int			cap;
	int64		listed;
	MemoryContext cxt;
} ListState;

/*
 * list_flush: queue the keys listed so far.
 */
static void
list_flush(ListState *ls)
{
	Oid			argtypes[3] = {INT8OID, INT8OID, TEXTARRAYOID};
	Datum		values[3];

	if (ls->nkeys == 0)
		return;
	values[0] = Int64GetDatum(ls->prefix->reset_id);
	values[1] = Int64GetDatum(ls->prefix->id);
	values[2] = rs_text_array_n(ls->keys, ls->nkeys);
	rs_spi("INSERT INTO reset_system.purge_queue (reset_id, kind, key, prefix_id)"
		   " SELECT $1, 'object', k, $2 FROM pg_catalog.unnest($3) AS k"
		   " ON CONFLICT (reset_id, kind, key) DO NOTHING",
		   3, argtypes, values, NULL, false, SPI_OK_INSERT);
	ls->listed += ls->nkeys;
	ls->nkeys = 0;
	MemoryContextReset(ls->cxt);
}

/*
 * list_callback: one listed object.
 */
static bool
list_callback(const char *key, void *arg)
{
	ListState  *ls = (ListState *) arg;

	ls->keys[ls->nkeys++] = MemoryContextStrdup(ls->cxt, key);
	if (ls->nkeys == ls->cap)
		list_flush(ls);
	return true;
}

/*
 * purge_collection: a prefix on a server that cannot list: delete the
 * whole collection in one request, but only when the prefix names one
 * (it ends in "/") and no row of a registered table references a key
 * under it (those keys must survive, and without a listing they cannot
 * be told apart).
 */
static void
purge_collection(const RsStorageDriver *driver, void *state, List *sources,
				 QueueRow *row, Outcomes *out)
{
	size_t		len = strlen(row->key);
	char	   *error;

	if (driver->delete_collection == NULL || len == 0 || row->key[len - 1] != '/')
	{
		outcome_add(out, row, RS_OBJ_FAILED, NULL,
					psprintf("the storage server offers no listing, so prefix \"%s\" can only be purged as a whole collection, "
							 "and %s", row->key,
							 driver->delete_collection == NULL ? "this backend cannot delete collections"
							 : "a collection is named by a prefix ending in \"/\""),
					true);
		return;
	}
	if (sources)
	{
		Oid			argtypes[1] = {TEXTOID};
		Datum		values[1];
		int64		referenced = 0;
		ListCell   *lc;

		/* every referencing row counts: the chunks with UNION ALL */
		values[0] = CStringGetTextDatum(row->key);
		foreach(lc, referenced_sources(true))
		{
			rs_spi(psprintf("SELECT pg_catalog.count(*) FROM (%s) AS s"
							" WHERE pg_catalog.starts_with(s.k, $1)", (char *) lfirst(lc)),
				   1, argtypes, values, NULL, false, SPI_OK_SELECT);
			referenced += rs_spi_int64(0, 0, 0);
		}
		if (referenced > 0)
		{
			outcome_add(out, row, RS_OBJ_FAILED, NULL,
						psprintf("the storage server offers no listing, and " INT64_FORMAT " key(s) under prefix \"%s\" "
								 "are still referenced by rows of registered tables: deleting the whole collection "
								 "would delete them too; nothing under the prefix was deleted",
								 referenced, row->key),
						true);
			return;
		}
	}
	error = driver->delete_collection(state, row->key);
	if (error)
		outcome_add(out, row, RS_OBJ_RETRY, NULL,
					psprintf("deleting collection \"%s\" failed: %s", row->key, error), true);
	else
	{
		outcome_add(out, row, RS_OBJ_DELETED, "purged: collection deleted", NULL, true);
		elog(LOG, "reset_system: reset " INT64_FORMAT ": deleted collection \"%s\" (the server offers no listing)",
			 row->reset_id, row->key);
	}
}

/*
 * purge_prefix: a prefix row.  Phase "list" queues every object under the
 * prefix (keeping those still referenced) and moves on to "cleanup";
 * "cleanup" waits until those objects are handled, then lets the backend
 * tidy up and marks the prefix done.
 */
static void
purge_prefix(const RsStorageDriver *driver, void *state, List *sources,
			 QueueRow *row, Outcomes *out)
{
	Oid			argtypes[1] = {INT8OID};
	Datum		values[1];
	ListCell   *lc;

	values[0] = Int64GetDatum(row->id);
	if (strcmp(row->phase, "list") == 0)
	{
		ListState	ls;
		char	   *error;

		memset(&ls, 0, sizeof(ls));
		ls.prefix = row;
		ls.cap = 1000;
		ls.keys = palloc(sizeof(char *) * ls.cap);
		ls.cxt = AllocSetContextCreate(CurrentMemoryContext, "reset_system prefix listing",
									   ALLOCSET_DEFAULT_SIZES);
		error = driver->list_prefix(state, row->key, list_callback, &ls);
		if (error == NULL)
			list_flush(&ls);
		MemoryContextDelete(ls.cxt);
		if (error == RS_LIST_UNSUPPORTED)
		{
			rs_spi("DELETE FROM reset_system.purge_queue WHERE prefix_id OPERATOR(pg_catalog.=) $1",
				   1, argtypes, values, NULL, false, SPI_OK_DELETE);
			purge_collection(driver, state, sources, row, out);
			return;
		}
		if (error != NULL)
		{
			/* the queued part rolls back with nothing else done */
			outcome_add(out, row, RS_OBJ_RETRY, NULL,
						psprintf("listing prefix \"%s\" failed: %s", row->key, error), true);
			rs_spi("DELETE FROM reset_system.purge_queue WHERE prefix_id OPERATOR(pg_catalog.=) $1",
				   1, argtypes, values, NULL, false, SPI_OK_DELETE);
			return;
		}
		foreach(lc, sources)
			rs_spi(psprintf("UPDATE reset_system.purge_queue SET state = 'done', outcome = '%s',"
							" done_at = pg_catalog.clock_timestamp()"
							" WHERE prefix_id OPERATOR(pg_catalog.=) $1"
							"   AND state OPERATOR(pg_catalog.=) 'pending'"
							"   AND key IN (%s)", OUTCOME_KEPT, (char *) lfirst(lc)),
				   1, argtypes, values, NULL, false, SPI_OK_UPDATE);
		/* a key this reset re-seeds is never purged */
		rs_spi("UPDATE reset_system.purge_queue o SET state = 'done', outcome = 'kept: re-seeded by this reset',"
			   " done_at = pg_catalog.clock_timestamp()"
			   " FROM reset_system.purge_queue u"
			   " WHERE o.prefix_id OPERATOR(pg_catalog.=) $1"
			   "   AND o.state OPERATOR(pg_catalog.=) 'pending'"
			   "   AND u.reset_id OPERATOR(pg_catalog.=) o.reset_id"
			   "   AND u.kind OPERATOR(pg_catalog.=) 'upload'"
			   "   AND u.key OPERATOR(pg_catalog.=) o.key",
			   1, argtypes, values, NULL, false, SPI_OK_UPDATE);
		rs_spi("UPDATE reset_system.purge_queue SET phase = 'cleanup',"
			   " next_attempt_at = pg_catalog.clock_timestamp(), last_error = NULL"
			   " WHERE id OPERATOR(pg_catalog.=) $1",
			   1, argtypes, values, NULL, false, SPI_OK_UPDATE);
		elog(LOG, "reset_system: reset " INT64_FORMAT ": listed " INT64_FORMAT " object(s) under prefix \"%s\"",
			 row->reset_id, ls.listed, row->key);
		return;
	}

	/* cleanup phase */
	rs_spi("SELECT 1 FROM reset_system.purge_queue"
		   " WHERE prefix_id OPERATOR(pg_catalog.=) $1 AND state OPERATOR(pg_catalog.=) 'pending'"
		   " LIMIT 1",
		   1, argtypes, values, NULL, false, SPI_OK_SELECT);
	if (SPI_processed > 0)
	{
		/* look again just after the last of them is due */
		rs_spi("UPDATE reset_system.purge_queue SET next_attempt_at ="
			   " (SELECT pg_catalog.max(o.next_attempt_at) FROM reset_system.purge_queue o"
			   "   WHERE o.prefix_id OPERATOR(pg_catalog.=) $1"
			   "     AND o.state OPERATOR(pg_catalog.=) 'pending')"
			   "   OPERATOR(pg_catalog.+) interval '1 millisecond'"
			   " WHERE id OPERATOR(pg_catalog.=) $1",
			   1, argtypes, values, NULL, false, SPI_OK_UPDATE);
		return;
	}
	if (driver->cleanup_prefix)
		driver->cleanup_prefix(state, row->key);
	outcome_add(out, row, RS_OBJ_DELETED, "purged", NULL, false);
}

/*
 * purge_upload: an upload row (a resource file a rebuild step re-seeded),
 * claimed only once the purge of its reset has nothing pending.
 */
static void
purge_upload(const RsStorageDriver *driver, void *state, QueueRow *row, Outcomes *out)
{
	size_t		len = 0;
	char	   *error = NULL;
	char	   *data = rs_seed_read(row->source, &len, &error);
	RsObjectResult res;

	if (data == NULL)
	{
		/* a missing file may be put back (a deployment in progress) */
		outcome_add(out, row, RS_OBJ_RETRY, NULL, error, true);
		return;
	}
	if (driver->put_object == NULL)
	{
		outcome_add(out, row, RS_OBJ_FAILED, NULL,
					psprintf("storage backend \"%s\" cannot upload objects", driver->name), true);
		return;
	}
	res = driver->put_object(state, row->key, data, len, &error);
	pfree(data);
	if (res == RS_OBJ_DELETED || res == RS_OBJ_MISSING)
		outcome_add(out, row, RS_OBJ_DELETED, OUTCOME_UPLOADED, NULL, true);
	else
		outcome_add(out, row, res, NULL,
					psprintf("uploading \"%s\" failed: %s", row->key, error ? error : "unknown error"), true);
}

/*
 * finish_resets: record in the history the resets whose purge has no
 * pending row left.
 */
static void
finish_resets(List *reset_ids)
{
	ListCell   *lc;

	foreach(lc, reset_ids)
	{
		Oid			argtypes[1] = {INT8OID};
		Datum		values[1];

		values[0] = Int64GetDatum(*(int64 *) lfirst(lc));
		/*
		 * From the end of the reset's rows backwards: the rows already done
		 * lie at the start, and their index entries stay until VACUUM, so a
		 * forward scan would step over all of them in every round.
		 */
		rs_spi("SELECT 1 FROM reset_system.purge_queue"
			   " WHERE state OPERATOR(pg_catalog.=) 'pending'"
			   "   AND reset_id OPERATOR(pg_catalog.=) $1"
			   " ORDER BY id DESC LIMIT 1",
			   1, argtypes, values, NULL, false, SPI_OK_SELECT);
		if (SPI_processed > 0)
			continue;
		/* the totals as purge_totals.h counts them everywhere */
		if (rs_spi("UPDATE reset_system.history h SET purge_objects = s.objects, purged = s.purged,"
				   " purge_failed = s.failed, purge_finished_at = pg_catalog.clock_timestamp()"
				   " FROM (" RS_PURGE_TOTALS_OF_RESET ") s"
				   " WHERE h.id OPERATOR(pg_catalog.=) $1 AND s.pending OPERATOR(pg_catalog.=) 0"
				   "   AND s.prefixes_pending OPERATOR(pg_catalog.=) 0 AND s.uploads_pending OPERATOR(pg_catalog.=) 0"
				   "   AND h.purge_finished_at IS NULL"
				   " RETURNING s.*",
				   1, argtypes, values, NULL, false, SPI_OK_UPDATE_RETURNING) > 0)
		{
			RsPurgeTotals t;
			char	   *failures;

			rs_purge_totals_read(0, 0, &t);
			failures = rs_purge_totals_failures(&t);
			ereport(LOG,
					(errmsg("reset_system: purge of reset " INT64_FORMAT " finished: " INT64_FORMAT " object(s) purged, " INT64_FORMAT " failed%s%s%s",
							DatumGetInt64(values[0]), t.purged, t.failed,
							t.kept > 0 ? psprintf(", " INT64_FORMAT " kept", t.kept) : "",
							t.uploaded > 0 ? psprintf(", " INT64_FORMAT " resource file(s) uploaded", t.uploaded) : "",
							(t.prefixes_failed > 0 || t.uploads_failed > 0) && failures ? psprintf(" (%s)", failures) : "")));
			rs_notify_purge_finished(DatumGetInt64(values[0]), t.purged, t.failed);
		}
	}
}

/*
 * summarize: whether anything (a purge, a webhook message) is still
 * pending, and when the next one is due.
 */
static void
summarize(RsPurgeRound *r)
{
	rs_spi("SELECT pg_catalog.min(t) IS NOT NULL, pg_catalog.min(t) FROM ("
		   " SELECT pg_catalog.min(next_attempt_at) AS t FROM reset_system.purge_queue"
		   "  WHERE state OPERATOR(pg_catalog.=) 'pending'"
		   " UNION ALL"
		   " SELECT pg_catalog.min(next_attempt_at) FROM reset_system.notifications"
		   "  WHERE state OPERATOR(pg_catalog.=) 'pending') due",
		   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	r->pending = rs_spi_bool(0, 0) ? 1 : 0;
	if (!rs_spi_isnull(0, 1))
	{
		bool		isnull;

		r->next_due = DatumGetTimestampTz(rs_spi_datum(0, 1, &isnull));
	}
}

/*
 * claim: lock up to limit due rows, walking the queue in (reset_id, id)
 * order from where the previous round stopped, so that rows already done
 * are never scanned again.  When nothing is left after that point, start
 * over from the beginning once (rows whose retry has become due).
 */
static int
claim(RsPurgeRound *r, QueueRow ***rows_out, int limit)
{
	Oid			argtypes[4] = {INT4OID, INT8OID, INT8OID, TIMESTAMPTZOID};
	Datum		values[4];
	int			n = 0;
	int			nest;
	QueueRow  **rows;

	/*
	 * The queue may have grown by 100,000 rows a moment ago, long before
	 * autovacuum analyzes it: without statistics the planner would sort
	 * all pending rows for every batch.  Walk the (reset_id, id) index.
	 */
	nest = NewGUCNestLevel();
	(void) set_config_option("enable_sort", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	for (int pass = 0; pass < 2; pass++)
	{
		values[0] = Int32GetDatum(limit);
		values[1] = Int64GetDatum(r->after_reset);
		values[2] = Int64GetDatum(r->after_id);
		values[3] = TimestampTzGetDatum(GetCurrentTimestamp());
		/* an upload waits until the purge of its reset has nothing pending */
		n = rs_spi("SELECT id, reset_id, kind, key, phase, attempts, ctid, source"
				   " FROM reset_system.purge_queue q"
				   " WHERE state OPERATOR(pg_catalog.=) 'pending'"
				   "   AND (reset_id, id) OPERATOR(pg_catalog.>) ($2, $3)"
				   "   AND next_attempt_at OPERATOR(pg_catalog.<=) $4"
				   "   AND CASE WHEN q.kind OPERATOR(pg_catalog.=) 'upload' THEN NOT EXISTS ("
				   "     SELECT 1 FROM reset_system.purge_queue o"
				   "      WHERE o.reset_id OPERATOR(pg_catalog.=) q.reset_id"
				   "        AND o.kind OPERATOR(pg_catalog.=) ANY (ARRAY['object', 'prefix'])"
				   "        AND o.state OPERATOR(pg_catalog.=) 'pending') ELSE true END"
				   " ORDER BY reset_id, id LIMIT $1"
				   " FOR UPDATE SKIP LOCKED",
				   4, argtypes, values, NULL, false, SPI_OK_SELECT);
		if (n > 0 || (r->after_reset == 0 && r->after_id == 0))
			break;
		r->after_reset = r->after_id = 0;
	}
	AtEOXact_GUC(true, nest);

	rows = palloc(sizeof(QueueRow *) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		QueueRow   *row = palloc(sizeof(QueueRow));

		row->id = rs_spi_int64(i, 0, 0);
		row->reset_id = rs_spi_int64(i, 1, 0);
		row->kind = rs_spi_text(i, 2);
		row->key = rs_spi_text(i, 3);
		row->source = rs_spi_isnull(i, 7) ? NULL : rs_spi_text(i, 7);
		row->phase = rs_spi_text(i, 4);
		row->attempts = (int) rs_spi_int64(i, 5, 0);
		{
			bool		isnull;

			ItemPointerCopy((ItemPointer) DatumGetPointer(rs_spi_datum(i, 6, &isnull)), &row->ctid);
		}
		rows[i] = row;
	}
	if (n > 0)
	{
		r->after_reset = rows[n - 1]->reset_id;
		r->after_id = rows[n - 1]->id;
	}
	*rows_out = rows;
	return n;
}

/*
 * storage_unusable: why the configured storage cannot be used now, or NULL.
 */
static char *
storage_unusable(RsStorageConfig *cfg)
{
	if (cfg == NULL || cfg->backend == NULL)
		return pstrdup("storage is not configured (see reset_configure_storage)");
	if (cfg->driver == NULL)
		return psprintf("storage backend \"%s\" is not known to this version of reset_system", cfg->backend);
	if (cfg->foreign)
		return pstrdup("the storage configuration was made on another server or in another database; "
					   "run reset_configure_storage() again to confirm it");
	return NULL;
}

/*
 * process_batch: act on the claimed rows.
 */
static void
process_batch(RsStorageConfig *cfg, QueueRow **rows, int n, RsPurgeRound *r)
{
	const RsStorageDriver *driver = cfg->driver;
	List	   *sources = referenced_sources(false);
	Outcomes   *out = outcomes_alloc(n);
	QueueRow  **objects = palloc(sizeof(QueueRow *) * Max(n, 1));
	int			nobjects = 0;
	List	   *resets = NIL;
	void	   *state;

	for (int i = 0; i < n; i++)
	{
		bool		seen = false;
		ListCell   *lc;

		foreach(lc, resets)
			if (*(int64 *) lfirst(lc) == rows[i]->reset_id)
				seen = true;
		if (!seen)
		{
			int64	   *id = palloc(sizeof(int64));

			*id = rows[i]->reset_id;
			resets = lappend(resets, id);
		}
		if (strcmp(rows[i]->kind, "object") == 0)
			objects[nobjects++] = rows[i];
	}

	pgstat_report_activity(STATE_RUNNING,
						   psprintf("reset_system purge: %d object(s) of reset " INT64_FORMAT " from %s",
									nobjects, rows[0]->reset_id, cfg->location));
	state = driver->open(cfg->options);
	PG_TRY();
	{
		if (nobjects > 0)
			purge_objects(driver, state, sources, objects, nobjects, out, r);
		for (int i = 0; i < n; i++)
		{
			if (strcmp(rows[i]->kind, "prefix") == 0)
				purge_prefix(driver, state, sources, rows[i], out);
			else if (strcmp(rows[i]->kind, "upload") == 0)
				purge_upload(driver, state, rows[i], out);
		}
	}
	PG_FINALLY();
	{
		driver->close(state);
	}
	PG_END_TRY();

	outcomes_write(out);
	finish_resets(resets);
}

/*
 * lock_internal_tables: lock every table of schema reset_system a round
 * may touch, without waiting.  A round never waits for a lock on them, so
 * it can never deadlock with DROP EXTENSION (which locks them one by one):
 * when one is taken, the round is skipped and the locks it got are
 * released with its transaction.
 */
static bool
lock_internal_tables(Oid nsp)
{
	static const char *const tables[] = {
		"purge_queue", "storage", "storage_prefixes", "registered_tables",
		"rebuild_steps", "history", "attempts", "notifications"
	};

	for (size_t i = 0; i < lengthof(tables); i++)
	{
		Oid			relid = get_relname_relid(tables[i], nsp);

		if (!OidIsValid(relid) ||
			!ConditionalLockRelationOid(relid, RowExclusiveLock) ||
			!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(relid)))
			return false;
	}
	return true;
}

/*
 * release_held: rows of resets committed with reset_system.purge_delay
 * become due the delay after the worker first sees them (which is after
 * their commit: before it, they are invisible here).  The condition is
 * exactly the predicate of index purge_queue_held, which is empty unless
 * something is held, so this costs nothing in the rounds of a long purge
 * (held rows are always pending: nothing claims them, and a restore that
 * cancels them clears hold_for).
 */
static void
release_held(void)
{
	int			nest;
	int			n;

	/* the statistics of a queue that just grew would suggest a full scan */
	nest = NewGUCNestLevel();
	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	n = rs_spi("WITH released AS ("
			   " UPDATE reset_system.purge_queue"
			   " SET next_attempt_at = pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) hold_for,"
			   "     hold_for = NULL"
			   " WHERE hold_for IS NOT NULL"
			   " RETURNING reset_id, next_attempt_at)"
			   " SELECT reset_id, pg_catalog.min(next_attempt_at) FROM released GROUP BY reset_id",
			   0, NULL, NULL, NULL, false, SPI_OK_SELECT);
	AtEOXact_GUC(true, nest);

	for (int i = 0; i < n; i++)
	{
		int64		reset_id = rs_spi_int64(i, 0, 0);
		bool		isnull;

		ereport(LOG,
				(errmsg("reset_system: the storage purge of reset " INT64_FORMAT " starts at %s (reset_system.purge_delay)",
						reset_id, timestamptz_to_str(DatumGetTimestampTz(rs_spi_datum(i, 1, &isnull))))));
	}
}

/*
 * throttle: after a round in which storage answered nothing but "retry
 * later" (throttling, 5xx, unreachable), back off before the next round,
 * exponentially while it lasts and at least as long as the server's
 * Retry-After, so a struggling server gets no request storm.
 */
static void
throttle(RsPurgeRound *r)
{
	if (r->sent_ok > 0 || r->sent_retry == 0)
	{
		if (r->sent_ok > 0)
			r->failing_rounds = 0;
		return;
	}
	r->failing_rounds++;
	r->backoff_ms = Max(retry_delay_ms(r->failing_rounds), rs_http_retry_after_max * 1000L);
}

/*
 * report_failures: one WARNING for a round in which objects were not
 * deleted, with the first error and how many objects failed the same way
 * (the same text reset_purge_status() shows).  A local directory's
 * failure reads as one: the errno text and the path, never as requests a
 * server asked to retry.
 */
static void
report_failures(RsPurgeRound *r, RsStorageConfig *cfg)
{
	bool		local = cfg->driver->local;
	const char *unit = local ? "file(s)" : "object(s)";
	char	   *msg;

	if (r->not_deleted == 0)
		return;
	if (r->backoff_ms > 0 && local)
		msg = psprintf("reset_system: purge of reset " INT64_FORMAT ": none of the %d %s of the round could be deleted from %s; "
					   "waiting %ld ms before the next round",
					   r->first_reset, r->tried, unit, cfg->location, (long) r->backoff_ms);
	else if (r->backoff_ms > 0)
		msg = psprintf("reset_system: purge of reset " INT64_FORMAT ": storage asked to retry all %d request(s) of the round; "
					   "waiting %ld ms before the next one",
					   r->first_reset, r->sent_retry, (long) r->backoff_ms);
	else
		msg = psprintf("reset_system: purge of reset " INT64_FORMAT ": %d of the %d %s of the round were not deleted from %s",
					   r->first_reset, r->not_deleted, r->tried, unit, cfg->location);
	ereport(WARNING,
			(errmsg_internal("%s", msg),
			 r->first_error ?
			 errdetail("First error: %s (%d %s failed the same way).", r->first_error, r->first_error_share, unit) : 0,
			 local ?
			 errhint("The database server's OS user must be able to write in every directory holding uploads; "
					 "SELECT * FROM reset_storage_check(); checks the directories where the purge acts.") :
			 errhint("SELECT * FROM reset_purge_status(); shows where the purge stands; reset_purge_retry() queues failed objects again once the cause is fixed.")));
	r->first_error = NULL;
}

/*
 * rs_purge_round: one batch, in its own transaction.
 */
void
rs_purge_round(RsPurgeRound *r)
{
	Oid			nsp;
	Oid			queue;
	RsStorageConfig *cfg;
	QueueRow  **rows;
	int			n;
	MemoryContext outer = CurrentMemoryContext;

	{
		int64		after_reset = r->after_reset;
		int64		after_id = r->after_id;
		int			failing = r->failing_rounds;

		memset(r, 0, sizeof(*r));
		r->after_reset = after_reset;
		r->after_id = after_id;
		r->failing_rounds = failing;
	}
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());

	nsp = get_namespace_oid(RS_INTERNAL_SCHEMA, true);
	queue = OidIsValid(nsp) ? get_relname_relid("purge_queue", nsp) : InvalidOid;
	if (!OidIsValid(get_extension_oid(RS_EXTENSION_NAME, true)) || !OidIsValid(queue))
	{
		r->stop = true;
		r->no_extension = true;
	}
	else if (!lock_internal_tables(nsp))
	{
		/* DROP EXTENSION (or similar) is under way: do not queue behind it */
		r->pending = 1;
		r->next_due = GetCurrentTimestamp() + 1000 * 1000;
	}
	else
	{
		List	   *names = rs_journal_ingest(rs_notify_refused);
		MemoryContext old = MemoryContextSwitchTo(outer);
		ListCell   *lc;

		foreach(lc, names)
			r->journal_done = lappend(r->journal_done, pstrdup((char *) lfirst(lc)));
		MemoryContextSwitchTo(old);
		r->claimed += rs_webhook_deliver();

		release_held();
		cfg = rs_storage_config_load(NULL);
		r->paused = rs_purge_paused;
		n = r->paused ? 0 : claim(r, &rows, rs_purge_batch_size > 0 ? rs_purge_batch_size
								  : (cfg && cfg->driver ? cfg->driver->batch_size : 100));
		if (n > 0)
		{
			char	   *why = storage_unusable(cfg);

			if (why)
			{
				/* leave the rows pending, say why, and stop until kicked */
				Oid			argtypes[2] = {INT8ARRAYOID, TEXTOID};
				Datum		values[2];
				int64	   *ids = palloc(sizeof(int64) * n);

				for (int i = 0; i < n; i++)
					ids[i] = rows[i]->id;
				values[0] = rs_int8_array_n(ids, n);
				values[1] = CStringGetTextDatum(why);
				rs_spi("UPDATE reset_system.purge_queue SET last_error = $2"
					   " WHERE id OPERATOR(pg_catalog.=) ANY ($1)",
					   2, argtypes, values, NULL, false, SPI_OK_UPDATE);
				ereport(WARNING,
						(errmsg("reset_system: cannot purge: %s", why),
						 errhint("The purge queue keeps the work; SELECT reset_purge_kick(); once storage is configured.")));
				r->stop = true;
			}
			else
			{
				rs_http_retry_after_max = 0;
				/* while storage keeps failing, probe with a few requests */
				rs_http_max_burst = r->failing_rounds > 0 ? 2 : 0;
				process_batch(cfg, rows, n, r);
				r->claimed += n;
				throttle(r);
				report_failures(r, cfg);
			}
		}
		if (r->claimed == 0 || r->stop)
			summarize(r);
	}

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();

	/* the attempts read from the journal are committed: remove the files */
	rs_journal_remove(r->journal_done);
	pgstat_report_stat(false);
	pgstat_report_activity(STATE_IDLE, NULL);
}
