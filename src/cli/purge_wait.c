/*-------------------------------------------------------------------------
 *
 * purge_wait.c
 *	  --wait: follow the storage purge of the reset just committed, with a
 *	  progress line on a terminal, and end with the server's own verdict
 *	  (reset_purge_wait): "Purged N storage object(s).", or the failures
 *	  (exit 4), or what is still pending when the time is up (exit 5).
 *
 *-------------------------------------------------------------------------
 */
#include "cli.h"

#include <time.h>
#include <unistd.h>

/*
 * now_s: a monotonic clock, in seconds.
 */
static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * progress: counts of the reset's storage objects by state, and whether
 * anything of its purge is still pending (a prefix still to be listed or
 * an upload counts, though neither is an object).
 */
static bool
progress(CliSession *s, const char *id, long long *pending, long long *done,
		 long long *failed, bool *busy, CliError *err)
{
	const char *params[1] = {id};
	char	   *sql = psprintf("SELECT state, objects, resets FROM %s.reset_purge_status($1::pg_catalog.int8)", s->schema);
	PGresult   *res = cli_query(s, sql, 1, params, err);

	if (res == NULL)
		return false;
	*pending = *done = *failed = 0;
	*busy = false;
	for (int i = 0; i < PQntuples(res); i++)
	{
		long long	n = atoll(PQgetvalue(res, i, 1));
		const char *state = PQgetvalue(res, i, 0);

		if (strcmp(state, "pending") == 0)
		{
			*pending = n;
			/* "resets": how many resets have a queue row in this state */
			*busy = atoll(PQgetvalue(res, i, 2)) > 0;
		}
		else if (strcmp(state, "done") == 0)
			*done = n;
		else if (strcmp(state, "failed") == 0)
			*failed = n;
	}
	PQclear(res);
	return true;
}

/*
 * cli_wait_purge: wait up to --wait for the purge of reset_id.  Returns the
 * exit code; the final line (or the error) is printed.
 */
int
cli_wait_purge(CliSession *s, long long reset_id, CliError *err)
{
	const char *params[1] = {s->opt->wait_for};
	char		id[32];
	PGresult   *res;
	double		limit;
	double		start = now_s();
	bool		show = !s->opt->quiet && !s->opt->json && isatty(STDERR_FILENO);
	bool		shown = false;
	long long	pending = 0,
				done = 0,
				failed = 0;
	bool		busy = false;
	char	   *sql;

	res = cli_query(s, "SELECT pg_catalog.date_part('epoch', $1::pg_catalog.interval)", 1, params, err);
	if (res == NULL)
		return cli_fail(s, err, CLI_EXIT_ERROR);	/* checked before the reset */
	limit = atof(PQgetvalue(res, 0, 0));
	PQclear(res);
	snprintf(id, sizeof(id), "%lld", reset_id);

	for (;;)
	{
		double		elapsed;

		if (!progress(s, id, &pending, &done, &failed, &busy, err))
			return cli_fail(s, err, CLI_EXIT_ERROR);
		elapsed = now_s() - start;
		if (show && (pending > 0 || shown))
		{
			long long	total = pending + done + failed;

			fprintf(stderr, "\rPurging storage: %lld of %lld done, %lld failed, %.0f/s   ",
					done, total, failed, elapsed > 0 ? done / elapsed : 0.0);
			fflush(stderr);
			shown = true;
		}
		if (!busy || elapsed >= limit)
			break;
		usleep(pending > 0 && elapsed < 2 ? 200000 : 1000000);
	}
	if (shown)
		fprintf(stderr, "\n");
	if (busy)
	{
		char	   *msg = psprintf("purge of reset %lld is not finished after %s", reset_id, s->opt->wait_for);
		char	   *detail = psprintf("%lld object(s) pending, %lld failed, %lld done so far. The reset itself is committed.",
									  pending, failed, done);
		char	   *hint = psprintf("The purge goes on in the background. Watch it with SELECT * FROM reset_purge_status(%lld);",
									reset_id);

		cli_error_set(err, "RS005", msg, detail, hint);
		return cli_fail(s, err, CLI_EXIT_TIMEOUT);
	}

	/* the server's verdict, in its words: done, or failures (RS004) */
	sql = psprintf("SELECT %s.reset_purge_wait('0 seconds')", s->schema);
	res = cli_query(s, sql, 0, NULL, err);
	if (res == NULL)
		return cli_fail(s, err, -1);
	cli_line(s, PQgetvalue(res, 0, 0));
	if (s->out)
		json_object_set_new(s->out, "purge", json_pack("{s:s, s:I}", "message", PQgetvalue(res, 0, 0),
													   "objects_done", (json_int_t) done));
	PQclear(res);
	return CLI_EXIT_DONE;
}
