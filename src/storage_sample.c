/*-------------------------------------------------------------------------
 *
 * storage_sample.c
 *	  Where a purge would act: the directories holding the keys a reset
 *	  would queue, sampled for the storage check.
 *
 * A storage root the server can write in says little: the files live in
 * subdirectories, often created by the application as its own OS user
 * with mode 0755, and the purge then fails on every one of them.  So the
 * check looks where the purge will act: the parent directories of the
 * keys in the storage columns of the tables a reset deletes, and the
 * directories of the registered prefixes.
 *
 * It has to stay fast on large tables (the plan waits for it): each
 * storage column is read whole when its table is small, and through
 * TABLESAMPLE SYSTEM (a fixed number of blocks, spread over the table,
 * the same blocks every time) when it is large.  From the distinct
 * directories found, at most RS_SAMPLE_DIRS are kept, shared out between
 * the storage columns: first one under each top-level directory, then
 * evenly spaced over the sorted rest, so that the sample covers the whole
 * tree rather than its first branch.  With more storage columns than
 * that (thousands of tables), RS_SAMPLE_DIRS of them are read, spread
 * evenly: the check's cost does not grow with the number of tables.
 *
 * It runs in the storage check worker (a superuser connection), inside a
 * subtransaction: a registered column that no longer exists makes the
 * sample fail with the reason, not the check.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include "config.h"
#include "internal.h"
#include "render.h"
#include "storage.h"
#include "storage_config.h"
#include "storage_sample.h"

/* Blocks of a table read for its sample (8 MB with the default block size) */
#define RS_SAMPLE_BLOCKS 1000

/*
 * same_top: whether two directories share their first segment.
 */
static bool
same_top(const char *a, const char *b)
{
	size_t		la = strcspn(a, "/");
	size_t		lb = strcspn(b, "/");

	return la == lb && strncmp(a, b, la) == 0;
}

/*
 * add_dir: append a directory unless it is there already.
 */
static void
add_dir(List **dirs, const char *dir)
{
	ListCell   *lc;

	foreach(lc, *dirs)
		if (strcmp((char *) lfirst(lc), dir) == 0)
			return;
	*dirs = lappend(*dirs, pstrdup(dir));
}

/*
 * pick: up to budget of the n sorted directories: all of them when they
 * fit, else the first under each top-level directory and then evenly
 * spaced ones.
 */
static void
pick(List **out, char **dirs, int n, int budget)
{
	bool	   *taken;
	int			got = 0;
	int			left;

	if (n <= budget)
	{
		for (int i = 0; i < n; i++)
			add_dir(out, dirs[i]);
		return;
	}
	taken = palloc0(sizeof(bool) * n);
	for (int i = 0; i < n && got < budget; i++)
		if (i == 0 || !same_top(dirs[i], dirs[i - 1]))
		{
			taken[i] = true;
			add_dir(out, dirs[i]);
			got++;
		}
	left = budget - got;
	for (int j = 0; j < left; j++)
	{
		int			i = (int) ((int64) j * n / left);

		while (i < n && taken[i])
			i++;
		if (i == n)
			break;
		taken[i] = true;
		add_dir(out, dirs[i]);
	}
}

/*
 * sample_column: the distinct parent directories of the keys in one
 * storage column (sorted), reading a sample of blocks when the table is
 * large.  Adds the number of keys read to *keys.
 */
static char **
sample_column(RsTable *t, const char *column, int *n, int64 *keys, bool *partial)
{
	Oid			argtypes[1] = {OIDOID};
	Datum		values[1];
	int64		bytes;
	double		pct = 100.0;
	const char *col = quote_identifier(column);
	char	  **dirs;
	int			rows;

	values[0] = ObjectIdGetDatum(t->relid);
	/* a partitioned table's size is its partitions' (the tree of a plain table is empty) */
	rs_spi("SELECT pg_catalog.sum(pg_catalog.pg_relation_size(c.oid))::pg_catalog.int8"
		   " FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1"
		   "    OR c.oid IN (SELECT relid FROM pg_catalog.pg_partition_tree($1))",
		   1, argtypes, values, NULL, true, SPI_OK_SELECT);
	bytes = rs_spi_int64(0, 0, 0);
	if (bytes > (int64) RS_SAMPLE_BLOCKS * BLCKSZ)
	{
		pct = 100.0 * RS_SAMPLE_BLOCKS * BLCKSZ / (double) bytes;
		*partial = true;
	}
	rows = rs_spi(psprintf("SELECT d, pg_catalog.count(*) FROM ("
						   " SELECT CASE WHEN pg_catalog.strpos(k, '/') OPERATOR(pg_catalog.>) 0"
						   "   THEN pg_catalog.left(k, pg_catalog.length(k) OPERATOR(pg_catalog.-)"
						   "                           pg_catalog.strpos(pg_catalog.reverse(k), '/'))"
						   "   ELSE '' END AS d"
						   " FROM (SELECT %s::pg_catalog.text AS k FROM %s%s WHERE %s IS NOT NULL) s"
						   " WHERE k OPERATOR(pg_catalog.<>) '') x"
						   " GROUP BY d ORDER BY d COLLATE \"C\"",
						   col, t->qname,
						   pct < 100.0 ? psprintf(" TABLESAMPLE SYSTEM (%.6f) REPEATABLE (1)", pct) : "",
						   col),
				  0, NULL, NULL, NULL, true, SPI_OK_SELECT);
	dirs = palloc(sizeof(char *) * Max(rows, 1));
	*n = 0;
	for (int i = 0; i < rows; i++)
	{
		char	   *d = rs_spi_text(i, 0);

		*keys += rs_spi_int64(i, 1, 0);
		/* a hostile key's directory is refused by the purge: never looked at */
		if (d[0] == '\0' || rs_storage_key_problem(d, false) == NULL)
			dirs[(*n)++] = d;
	}
	return dirs;
}

/*
 * take_sample: the sample itself (may ERROR).
 */
static void
take_sample(RsDirSample *sample, int limit)
{
	RsConfig   *cfg = rs_load_config(NULL);
	RsStorageConfig *st = rs_storage_config_load(NULL);
	List	   *columns = NIL;	/* pairs: RsTable *, char * */
	ListCell   *lc;
	int			per;
	double		step;
	MemoryContext percol;

	foreach(lc, cfg->tables)
	{
		RsTable    *t = (RsTable *) lfirst(lc);
		ListCell   *lc2;

		if (t->action != RS_ACTION_DELETE || t->storage_columns == NIL)
			continue;
		t->qname = rs_qualified_name(t->relid, true);
		if (t->qname == NULL)
			continue;
		foreach(lc2, t->storage_columns)
		{
			Oid			type;

			/* a column dropped, renamed or retyped is a blocker of the plan */
			if (rs_storage_column_state(t->relid, (char *) lfirst(lc2), &type) != RS_COLUMN_OK)
				continue;
			columns = lappend(columns, t);
			columns = lappend(columns, lfirst(lc2));
		}
	}
	sample->sources = list_length(columns) / 2;

	/*
	 * More columns than directories to keep: each would give one directory
	 * at most, so only limit of them are read, spread evenly over the list
	 * (a statement or two per column, thousands of them add up).
	 */
	step = sample->sources > limit ? (double) sample->sources / limit : 1.0;
	per = sample->sources > 0 ? Max(limit / sample->sources, 1) : 0;
	percol = AllocSetContextCreate(CurrentMemoryContext, "reset_system sample column",
								   ALLOCSET_DEFAULT_SIZES);
	for (double pos = 0; (int) pos < sample->sources; pos += step)
	{
		int			i = 2 * (int) pos;
		int			n;
		char	  **dirs;
		MemoryContext old = MemoryContextSwitchTo(percol);

		dirs = sample_column((RsTable *) list_nth(columns, i), (char *) list_nth(columns, i + 1),
							 &n, &sample->keys, &sample->partial);
		SPI_freetuptable(SPI_tuptable);
		MemoryContextSwitchTo(old);
		/* the kept directories are copied out before the column's memory goes */
		pick(&sample->dirs, dirs, n, per);
		MemoryContextReset(percol);
		sample->sampled++;
	}
	MemoryContextDelete(percol);
	if (st)
		foreach(lc, st->prefixes)
		{
			const char *prefix = (const char *) lfirst(lc);
			const char *slash = strrchr(prefix, '/');

			add_dir(&sample->dirs, slash ? pnstrdup(prefix, slash - prefix) : "");
			sample->prefixes++;
		}
}

/*
 * rs_storage_sample_dirs: the directories where a reset's purge would
 * act, at most limit of them from the keys plus one per prefix.  Inside
 * an SPI connection with the rights to read the registered tables (the
 * check worker's).  Never raises an error: a failure is in ->error.
 */
RsDirSample *
rs_storage_sample_dirs(int limit)
{
	RsDirSample *sample = palloc0(sizeof(RsDirSample));
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		take_sample(sample, limit);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		sample->dirs = NIL;
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			sample->error = psprintf("a table with a storage column is locked, by this transaction or another session (%s); plan again once that lock is released",
									 edata->message);
		else
			sample->error = pstrdup(edata->message);
	}
	PG_END_TRY();
	return sample;
}

/*
 * rs_storage_sample_describe: where the sample comes from, for the check's
 * detail ("12,000 keys of deleted rows (a sample of the larger tables) and
 * 1 registered prefix").
 */
char *
rs_storage_sample_describe(RsDirSample *sample)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfo(&buf, "%s key(s) of deleted rows%s", rs_format_count(sample->keys),
					 sample->partial ? " (a sample of the larger tables)" : "");
	if (sample->sampled < sample->sources)
		appendStringInfo(&buf, " in %d of the %d storage columns", sample->sampled, sample->sources);
	if (sample->prefixes > 0)
		appendStringInfo(&buf, " and %d registered prefix(es)", sample->prefixes);
	return buf.data;
}
