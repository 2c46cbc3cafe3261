/*-------------------------------------------------------------------------
 *
 * cli.h
 *	  reset-system: the command-line tool that shows a reset plan and, with
 *	  the confirmation phrase, runs it (libpq client).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_CLI_H
#define RESET_SYSTEM_CLI_H

#include "postgres_fe.h"

#include <jansson.h>

#include "libpq-fe.h"

/* Exit codes (documented in --help and the README) */
#define CLI_EXIT_DONE			0	/* reset done, or a preview shown */
#define CLI_EXIT_ERROR			1	/* connection or server error */
#define CLI_EXIT_USAGE			2	/* bad command line */
#define CLI_EXIT_REFUSED		3	/* a safety rail said no; nothing changed */
#define CLI_EXIT_PURGE_FAILED	4	/* reset done, purge ended with failures */
#define CLI_EXIT_TIMEOUT		5	/* reset done, purge not finished in time */

#define CLI_PHRASE "RESET-EVERYTHING"

typedef struct CliOptions
{
	const char *dbname;			/* database name, connection string or URI */
	const char *host;
	const char *port;
	const char *user;
	const char *confirm;		/* --confirm PHRASE, or NULL */
	const char *unlock;			/* --unlock DURATION, or NULL */
	const char *wait_for;		/* --wait[=DURATION], or NULL */
	bool		dry_run;
	bool		noinput;
	bool		json;
	bool		quiet;
} CliOptions;

/* An error from the server (or from the tool itself) */
typedef struct CliError
{
	char		sqlstate[6];
	char	   *message;
	char	   *detail;
	char	   *hint;
} CliError;

typedef struct CliSession
{
	PGconn	   *conn;
	const CliOptions *opt;
	char	   *schema;			/* the extension's schema, quoted */
	json_t	   *out;			/* the --json document */
	json_t	   *report;			/* report lines of the reset (array) */
	bool		streaming;		/* print NOTICE lines as they come */
	bool		held_complete;	/* the server's "Reset done" line: the tool
								 * says "System reset complete." after COMMIT */
} CliSession;

/* options.c */
extern void cli_parse_options(int argc, char **argv, CliOptions *opt);

/* session.c */
extern PGconn *cli_connect(const CliOptions *opt, CliError *err);
extern bool cli_find_schema(CliSession *s, CliError *err);
extern PGresult *cli_query(CliSession *s, const char *sql, int nparams,
						   const char *const *params, CliError *err);
extern bool cli_command(CliSession *s, const char *sql, CliError *err);
extern int	cli_exit_code(const CliError *err);
extern void cli_install_cancel_handler(PGconn *conn);

/* confirm.c */
extern bool cli_interactive(const CliOptions *opt);
extern bool cli_confirm_again(const char *database, const char *server,
							  const char *environment, long long rows);

/* purge_wait.c */
extern int	cli_wait_purge(CliSession *s, long long reset_id, CliError *err);

/* output.c */
extern void cli_say(CliSession *s, const char *fmt,...) pg_attribute_printf(2, 3);
extern void cli_line(CliSession *s, const char *line);
extern int	cli_fail(CliSession *s, const CliError *err, int code);
extern void cli_error_set(CliError *err, const char *sqlstate, const char *message,
						  const char *detail, const char *hint);
extern void cli_finish_json(CliSession *s, int code);

#endif							/* RESET_SYSTEM_CLI_H */
