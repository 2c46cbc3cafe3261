/*-------------------------------------------------------------------------
 *
 * session.c
 *	  reset-system's connection: connecting like every PostgreSQL tool,
 *	  finding the extension, running statements, streaming the server's
 *	  NOTICE lines, and cancelling on Ctrl-C.
 *
 *-------------------------------------------------------------------------
 */
#include "cli.h"

#include <signal.h>

/* For the SIGINT handler: the running connection's cancel object */
static PGcancel *volatile cancel_conn = NULL;

/*
 * cli_connect: connect with the options, the PG* environment, .pgpass and
 * service files (libpq does all of that); NULL with err set on failure.
 */
PGconn *
cli_connect(const CliOptions *opt, CliError *err)
{
	const char *keywords[6];
	const char *values[6];
	int			n = 0;
	PGconn	   *conn;

	if (opt->host)
	{
		keywords[n] = "host";
		values[n++] = opt->host;
	}
	if (opt->port)
	{
		keywords[n] = "port";
		values[n++] = opt->port;
	}
	if (opt->user)
	{
		keywords[n] = "user";
		values[n++] = opt->user;
	}
	keywords[n] = "fallback_application_name";
	values[n++] = "reset-system";
	/* last, so that a connection string given here overrides the above */
	if (opt->dbname)
	{
		keywords[n] = "dbname";
		values[n++] = opt->dbname;
	}
	keywords[n] = NULL;
	values[n] = NULL;

	conn = PQconnectdbParams(keywords, values, true);
	if (conn == NULL)
	{
		cli_error_set(err, "08000", "out of memory while connecting", NULL, NULL);
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK)
	{
		char	   *msg = pg_strdup(PQerrorMessage(conn));
		size_t		len = strlen(msg);

		while (len > 0 && msg[len - 1] == '\n')
			msg[--len] = '\0';
		cli_error_set(err, "08001", msg, NULL,
					  "Give the database as an argument (a name, \"host=... dbname=...\" or a postgresql:// URI), "
					  "or set PGHOST, PGPORT, PGUSER and PGDATABASE.");
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/*
 * set_from_result: an error's fields from a failed result.
 */
static void
set_from_result(CliError *err, const PGresult *res, PGconn *conn)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (msg == NULL)
		msg = PQerrorMessage(conn);
	cli_error_set(err, state ? state : "08006", msg,
				  PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL),
				  PQresultErrorField(res, PG_DIAG_MESSAGE_HINT));
}

/*
 * cli_query: run a statement with text parameters; returns the tuples
 * (PQclear them), or NULL with err set.
 */
PGresult *
cli_query(CliSession *s, const char *sql, int nparams, const char *const *params,
		  CliError *err)
{
	PGresult   *res = PQexecParams(s->conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (res == NULL || (PQresultStatus(res) != PGRES_TUPLES_OK &&
						PQresultStatus(res) != PGRES_COMMAND_OK))
	{
		set_from_result(err, res, s->conn);
		PQclear(res);
		return NULL;
	}
	return res;
}

/*
 * cli_command: a statement whose result is not needed.
 */
bool
cli_command(CliSession *s, const char *sql, CliError *err)
{
	PGresult   *res = cli_query(s, sql, 0, NULL, err);

	PQclear(res);
	return res != NULL;
}

/*
 * cli_find_schema: the schema reset_system is installed in, quoted for SQL.
 */
bool
cli_find_schema(CliSession *s, CliError *err)
{
	PGresult   *res = cli_query(s,
								"SELECT pg_catalog.quote_ident(n.nspname) FROM pg_catalog.pg_extension e"
								" JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace"
								" WHERE e.extname OPERATOR(pg_catalog.=) 'reset_system'",
								0, NULL, err);

	if (res == NULL)
		return false;
	if (PQntuples(res) != 1)
	{
		char	   *msg = psprintf("the reset_system extension is not installed in database \"%s\"",
								   PQdb(s->conn));

		PQclear(res);
		cli_error_set(err, "42704", msg, NULL,
					  "Connect to the application's database, or install it there: CREATE EXTENSION reset_system;");
		return false;
	}
	s->schema = pg_strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	return true;
}

/*
 * cli_exit_code: the exit status an error means.  A reset refused by one
 * of its safety rails (the same SQLSTATEs the server journals as
 * "refused") exits 3; the purge outcomes 4 and 5; anything else 1.
 */
int
cli_exit_code(const CliError *err)
{
	static const char *const refused[] = {
		"RS001", "RS002", "RS006", "RS007", "RS008", "RS009",
		"25006",				/* read-only transaction or hot standby */
		"42501",				/* insufficient privilege */
		"2BP01",				/* a foreign key from a table the reset keeps */
		"55P03",				/* lock not available in time */
		"55000",				/* a blocker of the plan */
		"0A000"					/* not supported here (isolation level, ...) */
	};

	if (strcmp(err->sqlstate, "RS004") == 0)
		return CLI_EXIT_PURGE_FAILED;
	if (strcmp(err->sqlstate, "RS005") == 0)
		return CLI_EXIT_TIMEOUT;
	for (size_t i = 0; i < lengthof(refused); i++)
		if (strcmp(err->sqlstate, refused[i]) == 0)
			return CLI_EXIT_REFUSED;
	return CLI_EXIT_ERROR;
}

/*
 * on_sigint: Ctrl-C cancels the running statement on the server (a reset
 * in progress then rolls back); a second Ctrl-C ends the tool.
 */
static void
on_sigint(int signo)
{
	static volatile sig_atomic_t seen = 0;
	char		errbuf[256];

	if (seen++ == 0 && cancel_conn != NULL)
	{
		(void) PQcancel(cancel_conn, errbuf, sizeof(errbuf));
		return;
	}
	_exit(130);
}

/*
 * cli_install_cancel_handler: route Ctrl-C to the server.
 */
void
cli_install_cancel_handler(PGconn *conn)
{
	cancel_conn = PQgetCancel(conn);
	signal(SIGINT, on_sigint);
}
