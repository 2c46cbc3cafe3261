/*-------------------------------------------------------------------------
 *
 * main.c
 *	  reset-system: show the reset plan of a database, and with --confirm,
 *	  run exactly that plan.
 *
 * The sequence:
 *	1. connect (libpq: arguments, PG* variables, .pgpass, services) and
 *	   find the extension;
 *	2. --unlock DURATION: reset_unlock() in a transaction of its own;
 *	3. the plan: reset_plan() for people, reset_plan_json() for its token,
 *	   read in one statement so both describe the same plan;
 *	4. without --confirm (or with --dry-run): print it and what to run;
 *	5. with --confirm: on a terminal, ask for the phrase again (never
 *	   inside a transaction: no lock is held while a person types), then
 *	   BEGIN, reset_execute(phrase, token), COMMIT.  The server's NOTICE
 *	   lines are printed as they come, except its last ("Reset done; it
 *	   takes effect when this transaction commits."): the tool commits
 *	   and then prints "System reset complete.".  Ctrl-C cancels the
 *	   statement: the reset rolls back;
 *	6. --wait: follow the purge (purge_wait.c).
 *
 *-------------------------------------------------------------------------
 */
#include "cli.h"

#define COMPLETE_LINE "System reset complete."

/* The server's last report line; true only once the tool has committed */
#define DONE_LINE_PREFIX "Reset done; it takes effect when this transaction commits."

/*
 * on_notice: the server's NOTICE lines during a reset, printed as they
 * come (and kept for --json); anything else as libpq would print it.
 */
static void
on_notice(void *arg, const PGresult *res)
{
	CliSession *s = (CliSession *) arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (s->streaming && msg && severity && strcmp(severity, "NOTICE") == 0)
	{
		if (strcmp(msg, DONE_LINE_PREFIX) == 0 || strcmp(msg, COMPLETE_LINE) == 0)
		{
			/* said before COMMIT: replaced by COMPLETE_LINE after it */
			s->held_complete = true;
			return;
		}
		if (s->report)
			json_array_append_new(s->report, json_string(msg));
		if (!s->opt->quiet)
			cli_line(s, msg);
		return;
	}
	fprintf(stderr, "%s", PQresultErrorMessage(res));
}

/*
 * finish: print the --json document, close the connection, exit status.
 */
static int
finish(CliSession *s, int code)
{
	cli_finish_json(s, code);
	if (s->conn)
		PQfinish(s->conn);
	return code;
}

/*
 * how_to_run: the command that runs this plan, for the preview.
 */
static char *
how_to_run(const CliOptions *opt)
{
	char	   *cmd = pg_strdup("reset-system --confirm " CLI_PHRASE);

	if (opt->host)
		cmd = psprintf("%s -h '%s'", cmd, opt->host);
	if (opt->port)
		cmd = psprintf("%s -p '%s'", cmd, opt->port);
	if (opt->user)
		cmd = psprintf("%s -U '%s'", cmd, opt->user);
	if (opt->dbname)
		cmd = psprintf("%s '%s'", cmd, opt->dbname);
	return cmd;
}

/*
 * check_duration: the server must read VALUE as an interval.
 */
static bool
check_duration(CliSession *s, const char *option, const char *value)
{
	const char *params[1] = {value};
	CliError	err;
	PGresult   *res;

	if (value == NULL)
		return true;
	res = cli_query(s, "SELECT $1::pg_catalog.interval", 1, params, &err);
	if (res == NULL)
	{
		fprintf(stderr, "reset-system: error: %s=\"%s\" is not a duration: %s\n"
				"HINT:  Write it as PostgreSQL reads an interval, e.g. %s=\"30 minutes\".\n",
				option, value, err.message, option);
		return false;
	}
	PQclear(res);
	return true;
}

/*
 * unlock: reset_unlock(DURATION), committed on its own.
 */
static bool
unlock(CliSession *s, CliError *err)
{
	const char *params[1] = {s->opt->unlock};
	PGresult   *res = cli_query(s, psprintf("SELECT %s.reset_unlock($1::pg_catalog.interval)", s->schema),
								1, params, err);

	if (res == NULL)
		return false;
	cli_say(s, "%s", PQgetvalue(res, 0, 0));
	if (s->out)
		json_object_set_new(s->out, "unlock", json_string(PQgetvalue(res, 0, 0)));
	PQclear(res);
	return true;
}

/*
 * execute: BEGIN, reset_execute, COMMIT.  Returns the reset's id, or -1
 * with err set (the transaction is rolled back).
 */
static long long
execute(CliSession *s, const char *token, CliError *err)
{
	const char *params[2] = {s->opt->confirm, token};
	PGresult   *res;
	const char *text;
	const char *id;
	long long	reset_id = 0;

	if (!cli_command(s, "BEGIN", err))
		return -1;
	s->streaming = true;
	cli_install_cancel_handler(s->conn);
	res = cli_query(s, psprintf("SELECT %s.reset_execute($1, $2)", s->schema), 2, params, err);
	s->streaming = false;
	if (res == NULL)
	{
		CliError	ignored;

		(void) cli_command(s, "ROLLBACK", &ignored);
		return -1;
	}
	text = PQgetvalue(res, 0, 0);
	id = strstr(text, "Recorded as reset ");
	if (id)
		reset_id = atoll(id + strlen("Recorded as reset "));
	PQclear(res);
	if (!cli_command(s, "COMMIT", err))
		return -1;
	return reset_id;
}

int
main(int argc, char **argv)
{
	CliOptions	opt;
	CliSession	s;
	CliError	err;
	PGresult   *res;
	const char *plan_text;
	json_t	   *plan;
	json_error_t jerr;
	const char *token;
	long long	reset_id;
	int			code = CLI_EXIT_DONE;

	cli_parse_options(argc, argv, &opt);
	memset(&s, 0, sizeof(s));
	memset(&err, 0, sizeof(err));
	s.opt = &opt;
	if (opt.json)
	{
		s.out = json_object();
		s.report = json_array();
	}

	s.conn = cli_connect(&opt, &err);
	if (s.conn == NULL)
		return finish(&s, cli_fail(&s, &err, CLI_EXIT_ERROR));
	PQsetNoticeReceiver(s.conn, on_notice, &s);
	if (!cli_find_schema(&s, &err))
		return finish(&s, cli_fail(&s, &err, CLI_EXIT_ERROR));

	/* durations are checked before anything is done */
	if (!check_duration(&s, "--wait", opt.wait_for) || !check_duration(&s, "--unlock", opt.unlock))
		return finish(&s, CLI_EXIT_USAGE);

	if (opt.unlock)
	{
		if (!unlock(&s, &err))
			return finish(&s, cli_fail(&s, &err, -1));
		if (opt.confirm == NULL)
			return finish(&s, CLI_EXIT_DONE);
	}

	/* the plan, for people and for its token, in one statement */
	res = cli_query(&s, psprintf("SELECT %s.reset_plan(), %s.reset_plan_json()::pg_catalog.text",
								 s.schema, s.schema), 0, NULL, &err);
	if (res == NULL)
		return finish(&s, cli_fail(&s, &err, -1));
	plan_text = pg_strdup(PQgetvalue(res, 0, 0));
	plan = json_loads(PQgetvalue(res, 0, 1), 0, &jerr);
	PQclear(res);
	if (plan == NULL || !json_is_string(json_object_get(plan, "token")))
	{
		cli_error_set(&err, "XX000", "the server's plan could not be read", jerr.text, NULL);
		return finish(&s, cli_fail(&s, &err, CLI_EXIT_ERROR));
	}
	token = json_string_value(json_object_get(plan, "token"));
	if (s.out)
		json_object_set(s.out, "plan", plan);

	if (opt.confirm == NULL || opt.dry_run)
	{
		if (s.out)
			json_object_set_new(s.out, "action", json_string("preview"));
		if (!opt.quiet && !opt.json)
			cli_line(&s, plan_text);
		if (opt.dry_run)
			cli_say(&s, "\n--dry-run: nothing was changed.");
		else
			cli_say(&s, "\nTo execute this plan: %s", how_to_run(&opt));
		return finish(&s, CLI_EXIT_DONE);
	}

	if (s.out)
		json_object_set_new(s.out, "action", json_string("reset"));
	if (!opt.quiet && !opt.json)
	{
		/* the plan without its "Dry run: ... to execute, run ..." ending */
		char	   *copy = pg_strdup(plan_text);
		char	   *end = strstr(copy, "\n\nDry run:");

		if (end)
			*end = '\0';
		cli_line(&s, copy);
		cli_line(&s, psprintf("\nRunning this plan (token %s) in one transaction:", token));
	}

	/* the courtesy prompt, on a terminal only, outside any transaction */
	if (strcmp(opt.confirm, CLI_PHRASE) == 0 && cli_interactive(&opt))
	{
		const char *env = json_string_value(json_object_get(plan, "environment"));

		if (!cli_confirm_again(json_string_value(json_object_get(plan, "database")),
							   json_string_value(json_object_get(plan, "server")),
							   env ? env : "unset",
							   (long long) json_integer_value(json_object_get(plan, "delete_rows"))))
		{
			cli_error_set(&err, "RS001", "the phrase typed does not match " CLI_PHRASE,
						  "Nothing was changed.", NULL);
			return finish(&s, cli_fail(&s, &err, CLI_EXIT_REFUSED));
		}
	}

	reset_id = execute(&s, token, &err);
	if (reset_id < 0)
		return finish(&s, cli_fail(&s, &err, -1));
	/* committed: only now is the reset complete */
	cli_line(&s, COMPLETE_LINE);
	if (s.report)
		json_array_append_new(s.report, json_string(COMPLETE_LINE));
	if (s.out)
	{
		json_t	   *r = json_object();

		json_object_set_new(r, "reset_id", json_integer(reset_id));
		json_object_set(r, "report", s.report);
		json_object_set_new(s.out, "reset", r);
	}

	if (opt.wait_for)
		code = cli_wait_purge(&s, reset_id, &err);
	return finish(&s, code);
}
