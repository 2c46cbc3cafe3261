/*-------------------------------------------------------------------------
 *
 * confirm.c
 *	  The courtesy prompt: on a terminal, after the plan, the operator types
 *	  the phrase again.  The real gate is --confirm (a job has no terminal);
 *	  without a terminal, or with --noinput, nothing is asked and stdin is
 *	  never read.
 *
 *-------------------------------------------------------------------------
 */
#include "cli.h"

#include <unistd.h>

/*
 * cli_interactive: should the tool ask?  Only when stdin is a terminal (a
 * person can answer), and not with --noinput or --json (a script).  The
 * question goes to stderr, so stdout stays the plan and the report.
 */
bool
cli_interactive(const CliOptions *opt)
{
	return !opt->noinput && !opt->json && isatty(STDIN_FILENO);
}

/*
 * cli_confirm_again: ask for the phrase; true when typed exactly.
 */
bool
cli_confirm_again(const char *database, const char *server, const char *environment,
				  long long rows)
{
	char		line[256];
	size_t		len;

	fprintf(stderr, "\nThis deletes %lld row(s) in database \"%s\" on %s (environment \"%s\").\n"
			"Type %s to go ahead, anything else to stop: ",
			rows, database, server, environment, CLI_PHRASE);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		line[--len] = '\0';
	return strcmp(line, CLI_PHRASE) == 0;
}
