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
 *	- SET TRANSACTION and the transaction_* settings, which only a
 *	  transaction's first statement may set (or which would make the rest
 *	  of the reset read-only);
 *	- statements that refuse to run in a transaction block: VACUUM, CREATE
 *	  INDEX / DROP INDEX / REINDEX ... CONCURRENTLY, REINDEX SCHEMA,
 *	  DATABASE and SYSTEM, REINDEX and CLUSTER of a partitioned table (as
 *	  the registrant's search_path finds it now), CLUSTER without a table,
 *	  ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY, ALTER SYSTEM,
 *	  CREATE and DROP DATABASE, ALTER DATABASE ... SET TABLESPACE, CREATE
 *	  and DROP TABLESPACE, DISCARD ALL, CREATE SUBSCRIPTION that creates a
 *	  slot, ALTER SUBSCRIPTION that refreshes, DROP SUBSCRIPTION of a
 *	  subscription that has a slot now; also inside CREATE SCHEMA;
 *	- COPY to or from the client (STDIN, STDOUT), which SPI cannot run;
 *	- a DO block in PL/pgSQL whose body commits or rolls back;
 *	- CALL of a PL/pgSQL procedure (found through the registrant's
 *	  search_path) whose body commits or rolls back.
 *
 * What cannot be seen from the text is not caught: a COMMIT in a string
 * run by EXECUTE, in a procedure called from a function or a DO block, in
 * a procedure created after the registration or in another language, and
 * objects that change kind after the registration (a table partitioned
 * later, a subscription given a slot later).  Those fail when the reset
 * runs, and the reset rolls back.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "common/keywords.h"
#include "nodes/parsenodes.h"
#include "parser/scanner.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "compat.h"
#include "internal.h"
#include "message.h"
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
	errcontext("command of rebuild step %s", rs_message_value(ctx->label));
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
 * partitioned: is rv a partitioned table or index, as the registrant's
 * search_path finds it now?  (A REINDEX or CLUSTER of one refuses to run
 * in a transaction block; of anything else, or of nothing yet, it runs.)
 */
static bool
partitioned(RsSession *s, RangeVar *rv)
{
	int			nest;
	Oid			relid;
	char		kind;

	if (rv == NULL)
		return false;
	nest = rs_use_caller_search_path(s);
	relid = RangeVarGetRelid(rv, NoLock, true);
	rs_restore_settings(nest);
	if (!OidIsValid(relid))
		return false;
	kind = get_rel_relkind(relid);
	return kind == RELKIND_PARTITIONED_TABLE || kind == RELKIND_PARTITIONED_INDEX;
}

/*
 * option_bool: the boolean option "name" of a DefElem list, else dflt.
 */
static bool
option_bool(List *options, const char *name, bool dflt)
{
	ListCell   *lc;

	foreach(lc, options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, name) == 0)
			return defGetBoolean(d);
	}
	return dflt;
}

/*
 * subscription_has_slot: does the subscription of that name in this
 * database have a replication slot now?
 */
static bool
subscription_has_slot(const char *name)
{
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		found;

	values[0] = CStringGetTextDatum(name);
	SPI_connect();
	found = rs_spi("SELECT 1 FROM pg_catalog.pg_subscription"
				   " WHERE subname OPERATOR(pg_catalog.=) $1::pg_catalog.name"
				   "   AND subdbid OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_database"
				   "        WHERE datname OPERATOR(pg_catalog.=) pg_catalog.current_database())"
				   "   AND subslotname IS NOT NULL",
				   1, argtypes, values, NULL, true, SPI_OK_SELECT) > 0;
	SPI_finish();
	return found;
}

/*
 * detach_concurrently: ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY.
 */
static bool
detach_concurrently(AlterTableStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_DetachPartition && cmd->def != NULL &&
			IsA(cmd->def, PartitionCmd) && ((PartitionCmd *) cmd->def)->concurrent)
			return true;
	}
	return false;
}

/*
 * outside_transaction_only: the statement's name when it refuses to run
 * inside a transaction block, else NULL; *hint says what to write
 * instead.
 */
static const char *
outside_transaction_only(RsSession *s, Node *stmt, const char **hint)
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
				if ((r->kind == REINDEX_OBJECT_TABLE || r->kind == REINDEX_OBJECT_INDEX) &&
					partitioned(s, r->relation))
				{
					*hint = "Reindex its partitions one by one (REINDEX TABLE partition), which can run inside the reset.";
					return "REINDEX of a partitioned table or index";
				}
				return NULL;
			}
		case T_ClusterStmt:
			if (((ClusterStmt *) stmt)->relation == NULL)
			{
				*hint = "Name the table (CLUSTER table USING index), which can run inside the reset.";
				return "CLUSTER without a table";
			}
			if (partitioned(s, ((ClusterStmt *) stmt)->relation))
			{
				*hint = "Cluster its partitions one by one, which can run inside the reset.";
				return "CLUSTER of a partitioned table";
			}
			return NULL;
		case T_AlterTableStmt:
			if (!detach_concurrently((AlterTableStmt *) stmt))
				return NULL;
			*hint = "Leave out CONCURRENTLY: inside the reset's transaction a plain DETACH PARTITION does the same.";
			return "ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY";
		case T_CreateSubscriptionStmt:
			{
				List	   *opts = ((CreateSubscriptionStmt *) stmt)->options;

				if (!option_bool(opts, "create_slot", option_bool(opts, "connect", true)))
					return NULL;
				*hint = "Create the subscription outside the reset, or with create_slot = false and a slot made beforehand.";
				return "CREATE SUBSCRIPTION that creates a replication slot";
			}
		case T_AlterSubscriptionStmt:
			{
				AlterSubscriptionStmt *a = (AlterSubscriptionStmt *) stmt;

				*hint = "Refresh the subscription outside the reset, or pass refresh = false.";
				if (a->kind == ALTER_SUBSCRIPTION_REFRESH)
					return "ALTER SUBSCRIPTION ... REFRESH PUBLICATION";
				if ((a->kind == ALTER_SUBSCRIPTION_SET_PUBLICATION ||
					 a->kind == ALTER_SUBSCRIPTION_ADD_PUBLICATION ||
					 a->kind == ALTER_SUBSCRIPTION_DROP_PUBLICATION) &&
					option_bool(a->options, "refresh", true))
					return "ALTER SUBSCRIPTION ... PUBLICATION with refresh";
				return NULL;
			}
		case T_DropSubscriptionStmt:
			if (!subscription_has_slot(((DropSubscriptionStmt *) stmt)->subname))
				return NULL;
			*hint = "Drop it outside the reset, or first detach its slot: ALTER SUBSCRIPTION ... DISABLE; ALTER SUBSCRIPTION ... SET (slot_name = NONE);";
			return "DROP SUBSCRIPTION of a subscription with a replication slot";
		case T_CreateSchemaStmt:
			{
				ListCell   *lc;

				foreach(lc, ((CreateSchemaStmt *) stmt)->schemaElts)
				{
					const char *what = outside_transaction_only(s, (Node *) lfirst(lc), hint);

					if (what != NULL)
						return what;
				}
				return NULL;
			}
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
 * sets_transaction: SET TRANSACTION ..., SET TRANSACTION SNAPSHOT, or a
 * SET or RESET of transaction_isolation, transaction_read_only or
 * transaction_deferrable.
 */
static bool
sets_transaction(Node *stmt)
{
	VariableSetStmt *v;

	if (!IsA(stmt, VariableSetStmt))
		return false;
	v = (VariableSetStmt *) stmt;
	if (v->name == NULL)
		return false;
	return pg_strcasecmp(v->name, "TRANSACTION") == 0 ||
		pg_strcasecmp(v->name, "TRANSACTION SNAPSHOT") == 0 ||
		pg_strcasecmp(v->name, "transaction_isolation") == 0 ||
		pg_strcasecmp(v->name, "transaction_read_only") == 0 ||
		pg_strcasecmp(v->name, "transaction_deferrable") == 0;
}

/*
 * copies_with_client: COPY ... FROM STDIN or TO STDOUT.
 */
static bool
copies_with_client(Node *stmt)
{
	return IsA(stmt, CopyStmt) && ((CopyStmt *) stmt)->filename == NULL &&
		!((CopyStmt *) stmt)->is_program;
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
				 errmsg("command of rebuild step %s is empty", rs_message_value(label))));

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
				 errmsg("command of rebuild step %s contains no statement", rs_message_value(label))));
	foreach(lc, stmts)
	{
		RawStmt    *raw = lfirst_node(RawStmt, lc);
		const char *hint;
		const char *what;
		char	   *proc;

		if (IsA(raw->stmt, TransactionStmt))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("rebuild step %s must not contain transaction control", rs_message_value(label)),
					 errdetail("Rebuild steps run inside the reset's transaction; COMMIT, ROLLBACK, BEGIN and SAVEPOINT are not allowed.")));
		if (sets_transaction(raw->stmt))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("rebuild step %s must not set the characteristics of the transaction", rs_message_value(label)),
					 errdetail("Rebuild steps run inside the reset's transaction, after its first statement; SET TRANSACTION, and SET transaction_isolation, transaction_read_only or transaction_deferrable, either fail there or make the rest of the reset read-only."),
					 errhint("Set the isolation level of the transaction that calls reset_execute() instead: BEGIN ISOLATION LEVEL ...;")));
		if (copies_with_client(raw->stmt))
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("rebuild step %s copies data to or from the client", rs_message_value(label)),
					 errdetail("Rebuild steps run inside the server, where COPY ... FROM STDIN and COPY ... TO STDOUT have no client to talk to."),
					 errhint("Use INSERT ... SELECT or INSERT ... VALUES, or COPY from a file on the server.")));
		if (IsA(raw->stmt, DoStmt) && do_commits((DoStmt *) raw->stmt))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("rebuild step %s contains a DO block that commits or rolls back", rs_message_value(label)),
					 errdetail("Rebuild steps run inside the reset's transaction, which a DO block cannot end."),
					 errhint("Take COMMIT and ROLLBACK out of the block; the reset commits when its caller commits.")));
		if (IsA(raw->stmt, CallStmt) && (proc = call_commits(s, (CallStmt *) raw->stmt)) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TRANSACTION_TERMINATION),
					 errmsg("rebuild step %s calls procedure %s, which commits or rolls back", rs_message_value(label), proc),
					 errdetail("Rebuild steps run inside the reset's transaction, which a procedure called there cannot end."),
					 errhint("Call a procedure (or a function) without COMMIT and ROLLBACK; the reset commits when its caller commits.")));
		what = outside_transaction_only(s, raw->stmt, &hint);
		if (what != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
					 errmsg("rebuild step %s contains %s, which cannot run inside a transaction", rs_message_value(label), what),
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
