/*-------------------------------------------------------------------------
 *
 * rebuild_check.c
 *	  What a rebuild command may contain, checked when it is registered.
 *
 * A rebuild step runs inside the reset's transaction, through SPI.  A
 * command that cannot run there would make every reset fail at its end,
 * after the deletes; it is refused at registration instead, with what to
 * write instead.  The command is read with the server's raw parser (its
 * syntax is checked too, with the error pointing into the command):
 *
 *	- transaction control: BEGIN, COMMIT, ROLLBACK, SAVEPOINT, PREPARE
 *	  TRANSACTION, ...;
 *	- statements that refuse to run in a transaction block: VACUUM, CREATE
 *	  INDEX / DROP INDEX / REINDEX ... CONCURRENTLY, REINDEX SCHEMA,
 *	  DATABASE and SYSTEM, CLUSTER without a table, ALTER SYSTEM, CREATE and
 *	  DROP DATABASE, ALTER DATABASE ... SET TABLESPACE, CREATE and DROP
 *	  TABLESPACE, DISCARD ALL;
 *	- a DO block in PL/pgSQL whose body commits or rolls back;
 *	- CALL of a PL/pgSQL procedure (found through the registrant's
 *	  search_path) whose body commits or rolls back.
 *
 * What cannot be seen from the text is not caught: a COMMIT in a string
 * run by EXECUTE, in a procedure called from a function or a DO block, in
 * a procedure created after the registration or in another language, and
 * subscription commands (whether they may run in a transaction depends on
 * their options and the subscription).  Those fail when the reset runs,
 * and the reset rolls back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/keywords.h"
#include "nodes/parsenodes.h"
#include "parser/scanner.h"
#include "utils/builtins.h"
#include "utils/memutils.h"

#include "compat.h"
#include "rebuild.h"
#include "render.h"
#include "reset_system.h"

/* What rebuild_parse_context needs to know. */
typedef struct RebuildParseContext
{
	const char *label;
	const char *command;
} RebuildParseContext;

/*
 * rebuild_parse_context: a syntax error in a rebuild command points into
 * the command, not into the caller's statement, and names the step.
 */
static void
rebuild_parse_context(void *arg)
{
	RebuildParseContext *ctx = (RebuildParseContext *) arg;
	int			pos = geterrposition();

	if (pos > 0)
	{
		errposition(0);
		internalerrposition(pos);
		internalerrquery(ctx->command);
	}
	errcontext("command of rebuild step \"%s\"", ctx->label);
}

/*
 * keyword_token: the lexer's token for a keyword (lower case).
 */
static int
keyword_token(const char *word)
{
	int			kwnum = ScanKeywordLookup(word, &ScanKeywords);

	Assert(kwnum >= 0);
	return ScanKeywordTokens[kwnum];
}

/*
 * body_commits: does this PL/pgSQL body contain COMMIT or ROLLBACK as a
 * statement?  The body is read with the server's lexer (strings, quoted
 * identifiers and comments are skipped as the server skips them); a
 * COMMIT or ROLLBACK that starts a statement (after ";", BEGIN, THEN,
 * ELSE, LOOP or a label) and ends it (";" or AND CHAIN) is one.
 */
static bool
body_commits(const char *body)
{
	core_yy_extra_type extra;
	core_yyscan_t scanner;
	core_YYSTYPE yylval;
	YYLTYPE		yylloc;
	int			t_commit = keyword_token("commit");
	int			t_rollback = keyword_token("rollback");
	int			t_and = keyword_token("and");
	bool		at_start = true;
	bool		pending = false;
	bool		found = false;

	scanner = scanner_init(body, &extra, &ScanKeywords, ScanKeywordTokens);
	for (;;)
	{
		int			tok = core_yylex(&yylval, &yylloc, scanner);

		if (tok == 0)
			break;
		if (pending && (tok == ';' || tok == t_and))
		{
			found = true;
			break;
		}
		pending = at_start && (tok == t_commit || tok == t_rollback);
		at_start = tok == ';' ||
			tok == keyword_token("begin") || tok == keyword_token("then") ||
			tok == keyword_token("else") || tok == keyword_token("loop") ||
			(tok >= 256 && strncmp(body + yylloc, ">>", 2) == 0);
	}
	scanner_finish(scanner);
	return found;
}

/*
 * do_commits: a DO block in PL/pgSQL that commits or rolls back.
 */
static bool
do_commits(DoStmt *stmt)
{
	const char *body = NULL;
	const char *language = "plpgsql";
	ListCell   *lc;

	foreach(lc, stmt->args)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, "as") == 0)
			body = strVal(d->arg);
		else if (strcmp(d->defname, "language") == 0)
			language = strVal(d->arg);
	}
	return body != NULL && strcmp(language, "plpgsql") == 0 && body_commits(body);
}

/*
 * call_commits: the name of a PL/pgSQL procedure of that name, in the
 * registrant's search_path (or the schema given), whose body commits or
 * rolls back; NULL when there is none.
 */
static char *
call_commits(RsSession *s, CallStmt *stmt)
{
	List	   *names = stmt->funccall->funcname;
	char	   *schema = NULL;
	char	   *proc;
	Oid			argtypes[2] = {TEXTOID, TEXTOID};
	Datum		values[2];
	char		nulls[2] = {' ', ' '};
	char	   *found = NULL;
	MemoryContext caller = CurrentMemoryContext;
	int			nest;
	int			n;

	proc = strVal(llast(names));
	if (list_length(names) >= 2)
		schema = strVal(list_nth(names, list_length(names) - 2));
	values[0] = CStringGetTextDatum(proc);
	values[1] = schema ? CStringGetTextDatum(schema) : (Datum) 0;
	if (schema == NULL)
		nulls[1] = 'n';

	SPI_connect();
	nest = rs_use_caller_search_path(s);
	n = rs_spi("SELECT pg_catalog.quote_ident(n.nspname) OPERATOR(pg_catalog.||) '.'"
			   "   OPERATOR(pg_catalog.||) pg_catalog.quote_ident(p.proname), p.prosrc"
			   " FROM pg_catalog.pg_proc p"
			   " JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) p.pronamespace"
			   " JOIN pg_catalog.pg_language l ON l.oid OPERATOR(pg_catalog.=) p.prolang"
			   " WHERE p.prokind OPERATOR(pg_catalog.=) 'p'"
			   "   AND l.lanname OPERATOR(pg_catalog.=) 'plpgsql'"
			   "   AND p.proname OPERATOR(pg_catalog.=) $1"
			   "   AND CASE WHEN $2 IS NULL"
			   "        THEN n.nspname OPERATOR(pg_catalog.=) ANY (pg_catalog.current_schemas(true))"
			   "        ELSE n.nspname OPERATOR(pg_catalog.=) $2 END",
			   2, argtypes, values, nulls, true, SPI_OK_SELECT);
	rs_restore_settings(nest);
	for (int i = 0; i < n && found == NULL; i++)
	{
		char	   *src = rs_spi_text(i, 1);

		if (src && body_commits(src))
			found = MemoryContextStrdup(caller, rs_spi_text(i, 0));
	}
	SPI_finish();
	return found;
}

/*
 * reindex_concurrently: REINDEX (CONCURRENTLY) or REINDEX ... CONCURRENTLY.
 */
static bool
reindex_concurrently(ReindexStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->params)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, "concurrently") == 0)
			return defGetBoolean(d);
	}
	return false;
}

/*
 * outside_transaction_only: the statement's name when it refuses to run
 * inside a transaction block, else NULL; *hint says what to write
 * instead.
 */
static const char *
outside_transaction_only(Node *stmt, const char **hint)
{
	*hint = "Run it outside the reset, before or after it.";
	switch (nodeTag(stmt))
	{
		case T_VacuumStmt:
			if (!((VacuumStmt *) stmt)->is_vacuumcmd)
				return NULL;
			*hint = "ANALYZE can run inside the reset; VACUUM has to run after it commits.";
			return "VACUUM";
		case T_IndexStmt:
			if (!((IndexStmt *) stmt)->concurrent)
				return NULL;
			*hint = "Leave out CONCURRENTLY: inside the reset's transaction a plain CREATE INDEX does the same.";
			return "CREATE INDEX CONCURRENTLY";
		case T_DropStmt:
			if (!((DropStmt *) stmt)->concurrent)
				return NULL;
			*hint = "Leave out CONCURRENTLY: inside the reset's transaction a plain DROP INDEX does the same.";
			return "DROP INDEX CONCURRENTLY";
		case T_ReindexStmt:
			{
				ReindexStmt *r = (ReindexStmt *) stmt;

				if (reindex_concurrently(r))
				{
					*hint = "Leave out CONCURRENTLY: inside the reset's transaction a plain REINDEX does the same.";
					return "REINDEX ... CONCURRENTLY";
				}
				if (r->kind == REINDEX_OBJECT_SCHEMA || r->kind == REINDEX_OBJECT_DATABASE ||
					r->kind == REINDEX_OBJECT_SYSTEM)
				{
					*hint = "Reindex the tables one by one (REINDEX TABLE ...), which can run inside the reset.";
					return r->kind == REINDEX_OBJECT_SCHEMA ? "REINDEX SCHEMA"
						: r->kind == REINDEX_OBJECT_DATABASE ? "REINDEX DATABASE" : "REINDEX SYSTEM";
				}
				return NULL;
			}
		case T_ClusterStmt:
			if (((ClusterStmt *) stmt)->relation != NULL)
				return NULL;
			*hint = "Name the table (CLUSTER table USING index), which can run inside the reset.";
			return "CLUSTER without a table";
		case T_AlterSystemStmt:
			*hint = "Change server settings outside the reset.";
			return "ALTER SYSTEM";
		case T_CreatedbStmt:
			return "CREATE DATABASE";
		case T_DropdbStmt:
			return "DROP DATABASE";
		case T_AlterDatabaseStmt:
			{
				ListCell   *lc;

				foreach(lc, ((AlterDatabaseStmt *) stmt)->options)
					if (strcmp(lfirst_node(DefElem, lc)->defname, "tablespace") == 0)
						return "ALTER DATABASE ... SET TABLESPACE";
				return NULL;
			}
		case T_CreateTableSpaceStmt:
			return "CREATE TABLESPACE";
		case T_DropTableSpaceStmt:
			return "DROP TABLESPACE";
		case T_DiscardStmt:
			if (((DiscardStmt *) stmt)->target != DISCARD_ALL)
				return NULL;
			*hint = "DISCARD PLANS, DISCARD SEQUENCES and DISCARD TEMP can run inside the reset.";
			return "DISCARD ALL";
		default:
			return NULL;
	}
}

/*
 * rs_rebuild_check_command: the command must parse, hold a statement, and
 * be able to run inside the reset's transaction (see the header comment).
 */
void
rs_rebuild_check_command(RsSession *s, const char *label, const char *command)
{
	List	   *stmts;
	ListCell   *lc;
	const char *p = command;
	RebuildParseContext pctx;
	ErrorContextCallback errctx;

	while (*p && isspace((unsigned char) *p))
		p++;
	if (*p == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("command of rebuild step \"%s\" is empty", label)));

	pctx.label = label;
	pctx.command = command;
	errctx.callback = rebuild_parse_context;
	errctx.arg = &pctx;
	errctx.previous = error_context_stack;
	error_context_stack = &errctx;
	stmts = rs_raw_parser(command);
	error_context_stack = errctx.previous;
	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("command of rebuild step \"%s\" contains no statement", label)));
	foreach(lc, stmts)
	{
		RawStmt    *raw = lfirst_node(RawStmt, lc);
		const char *hint;
		const char *what;
		char	   *proc;

		if (IsA(raw->stmt, TransactionStmt))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("rebuild step \"%s\" must not contain transaction control", label),
					 errdetail("Rebuild steps run inside the reset's transaction; COMMIT, ROLLBACK, BEGIN and SAVEPOINT are not allowed.")));
		if (IsA(raw->stmt, DoStmt) && do_commits((DoStmt *) raw->stmt))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("rebuild step \"%s\" contains a DO block that commits or rolls back", label),
					 errdetail("Rebuild steps run inside the reset's transaction, which a DO block cannot end."),
					 errhint("Take COMMIT and ROLLBACK out of the block; the reset commits when its caller commits.")));
		if (IsA(raw->stmt, CallStmt) && (proc = call_commits(s, (CallStmt *) raw->stmt)) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("rebuild step \"%s\" calls procedure %s, which commits or rolls back", label, proc),
					 errdetail("Rebuild steps run inside the reset's transaction, which a procedure called there cannot end."),
					 errhint("Call a procedure (or a function) without COMMIT and ROLLBACK; the reset commits when its caller commits.")));
		what = outside_transaction_only(raw->stmt, &hint);
		if (what != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("rebuild step \"%s\" contains %s, which cannot run inside a transaction", label, what),
					 errdetail("Rebuild steps run inside the reset's transaction."),
					 errhint("%s", hint)));
	}
}

/*
 * rs_rebuild_normalize: a command with its white space collapsed and
 * trailing semicolons dropped, to tell whether two commands are the same.
 */
char *
rs_rebuild_normalize(const char *command)
{
	char	   *norm = rs_one_line(command, INT_MAX - 4);
	int			len = strlen(norm);

	while (len > 0 && (norm[len - 1] == ';' || norm[len - 1] == ' '))
		norm[--len] = '\0';
	return norm;
}
