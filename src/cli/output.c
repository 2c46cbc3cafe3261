/*-------------------------------------------------------------------------
 *
 * output.c
 *	  What reset-system prints: lines for a person on stdout, errors on
 *	  stderr in PostgreSQL's shape (ERROR / DETAIL / HINT), or one JSON
 *	  document on stdout with --json (person-readable lines then go to
 *	  stderr, so stdout always parses).
 *
 *-------------------------------------------------------------------------
 */
#include "cli.h"

/*
 * cli_error_set: fill an error (copies the strings).
 */
void
cli_error_set(CliError *err, const char *sqlstate, const char *message,
			  const char *detail, const char *hint)
{
	strlcpy(err->sqlstate, sqlstate ? sqlstate : "XX000", sizeof(err->sqlstate));
	err->message = pg_strdup(message ? message : "unknown error");
	err->detail = detail ? pg_strdup(detail) : NULL;
	err->hint = hint ? pg_strdup(hint) : NULL;
}

/*
 * cli_line: one line for a person (stdout, or stderr with --json).
 */
void
cli_line(CliSession *s, const char *line)
{
	FILE	   *f = s->opt->json ? stderr : stdout;

	fprintf(f, "%s\n", line);
	fflush(f);
}

/*
 * cli_say: a formatted line for a person, unless --quiet.
 */
void
cli_say(CliSession *s, const char *fmt,...)
{
	va_list		ap;
	FILE	   *f = s->opt->json ? stderr : stdout;

	if (s->opt->quiet)
		return;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

/*
 * cli_fail: report an error and return the exit code it means.
 */
int
cli_fail(CliSession *s, const CliError *err, int code)
{
	if (code < 0)
		code = cli_exit_code(err);
	fprintf(stderr, "reset-system: error: %s\n", err->message);
	if (err->detail)
		fprintf(stderr, "DETAIL:  %s\n", err->detail);
	if (err->hint)
		fprintf(stderr, "HINT:  %s\n", err->hint);
	if (s->out)
	{
		json_t	   *e = json_pack("{s:s, s:s}", "sqlstate", err->sqlstate, "message", err->message);

		json_object_set_new(e, "detail", err->detail ? json_string(err->detail) : json_null());
		json_object_set_new(e, "hint", err->hint ? json_string(err->hint) : json_null());
		json_object_set_new(s->out, "error", e);
	}
	return code;
}

/*
 * cli_finish_json: print the --json document with its exit code.
 */
void
cli_finish_json(CliSession *s, int code)
{
	char	   *text;

	if (s->out == NULL)
		return;
	json_object_set_new(s->out, "exit_code", json_integer(code));
	text = json_dumps(s->out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (text)
	{
		printf("%s\n", text);
		free(text);
	}
	fflush(stdout);
}
