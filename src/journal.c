/*-------------------------------------------------------------------------
 *
 * journal.c
 *	  A durable record of every reset attempt, written outside the
 *	  caller's transaction.
 *
 * A refused or failed reset aborts the caller's transaction, and so would
 * any row it wrote.  So every attempt is written as a small JSON file in
 * $PGDATA/pg_reset_system/journal (fsynced and renamed into place, like
 * core's own state files), and logged as one structured server-log line.
 * The purge worker later copies the files of its database into
 * reset_system.attempts and removes them; reset_history() copies them too,
 * so it never misses one.
 *
 * A successful reset is journaled as "executed" with its transaction id:
 * whether the caller then committed or rolled back is derived later from
 * the history (a committed reset has a history row) and pg_xact_status().
 *
 * Writing the journal never raises an error: a failure is a WARNING, so
 * the refusal the operator must see is never hidden behind it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "common/ip.h"
#include "miscadmin.h"
#include "storage/fd.h"
/* fmgrprotos.h declares the SQL function json_object, as jansson does */
#define json_object pg_sql_json_object
#include "utils/builtins.h"
#undef json_object
#include "utils/guc.h"
#include "utils/backend_status.h"
#include "utils/timestamp.h"

#include "jsonutil.h"

#include "internal.h"
#include "commit_hook.h"
#include "journal.h"
#include "reset_system.h"

#define RS_JOURNAL_DIR "pg_reset_system/journal"

/*
 * ensure_dir: create the journal directory if needed.
 */
static bool
ensure_dir(void)
{
	if (MakePGDirectory("pg_reset_system") < 0 && errno != EEXIST)
		return false;
	if (MakePGDirectory(RS_JOURNAL_DIR) < 0 && errno != EEXIST)
		return false;
	return true;
}

/*
 * or_empty: NULL-safe string for logs and JSON.
 */
static const char *
or_empty(const char *s)
{
	return s ? s : "";
}

/*
 * client_address: the client's IP address, "[local]" for a Unix socket,
 * or NULL (a background process).
 */
static char *
client_address(void)
{
	char		host[NI_MAXHOST];
	const SockAddr *sa;

	if (MyBEEntry == NULL)
		return NULL;
	sa = &MyBEEntry->st_clientaddr;
	if (sa->salen == 0)
		return NULL;
	if (sa->addr.ss_family != AF_INET && sa->addr.ss_family != AF_INET6)
		return pstrdup("[local]");
	if (pg_getnameinfo_all(&sa->addr, sa->salen, host, sizeof(host), NULL, 0,
						   NI_NUMERICHOST) != 0)
		return NULL;
	return pstrdup(host);
}

/*
 * rs_journal_attempt: record one attempt durably, and log it.
 */
void
rs_journal_attempt(const RsAttempt *a)
{
	static int	counter = 0;
	TimestampTz now = GetCurrentTimestamp();
	char	   *role = GetUserNameFromId(GetUserId(), true);
	char	   *session_role = GetUserNameFromId(GetSessionUserId(), true);
	char	   *database = get_database_name(MyDatabaseId);
	const char *client = client_address();
	char		xid[32] = "";
	char		tmp[MAXPGPATH];
	char		path[MAXPGPATH];
	json_t	   *obj;
	char	   *text;
	int			fd;
	bool		ok = false;

	if (FullTransactionIdIsValid(a->xid))
		snprintf(xid, sizeof(xid), UINT64_FORMAT, U64FromFullTransactionId(a->xid));

	/* the structured log line: one per attempt, whatever happens next */
	ereport(LOG,
			(errmsg("reset_system attempt: outcome=\"%s\" database=\"%s\" environment=\"%s\" role=\"%s\" session_role=\"%s\" application=\"%s\" client=\"%s\" xid=\"%s\" reset_id=\"" INT64_FORMAT "\" rows=\"" INT64_FORMAT "\" sqlstate=\"%s\" reason=\"%s\"",
					a->outcome, or_empty(database), or_empty(rs_environment), or_empty(role),
					or_empty(session_role), rs_application_name(), or_empty(client), xid,
					a->reset_id, a->rows_deleted, or_empty(a->sqlstate), or_empty(a->reason)),
			 errhidestmt(true)));

	obj = rs_json_object();
	json_object_set_new(obj, "at", json_string(timestamptz_to_str(now)));
	json_object_set_new(obj, "database_oid", json_integer(MyDatabaseId));
	json_object_set_new(obj, "database", json_string(or_empty(database)));
	json_object_set_new(obj, "environment", json_string(or_empty(rs_environment)));
	json_object_set_new(obj, "role", json_string(or_empty(role)));
	json_object_set_new(obj, "session_role", json_string(or_empty(session_role)));
	json_object_set_new(obj, "outcome", json_string(a->outcome));
	json_object_set_new(obj, "reason", a->reason ? json_string(a->reason) : json_null());
	json_object_set_new(obj, "sqlstate", a->sqlstate ? json_string(a->sqlstate) : json_null());
	json_object_set_new(obj, "reset_id", a->reset_id > 0 ? json_integer(a->reset_id) : json_null());
	json_object_set_new(obj, "rows_deleted", a->rows_deleted >= 0 ? json_integer(a->rows_deleted) : json_null());
	json_object_set_new(obj, "xid", xid[0] ? json_string(xid) : json_null());
	json_object_set_new(obj, "client", client ? json_string(client) : json_null());
	json_object_set_new(obj, "application", json_string(rs_application_name()));
	json_object_set_new(obj, "pid", json_integer(MyProcPid));
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);

	snprintf(path, sizeof(path), "%s/%u-" INT64_FORMAT "-%d-%d.json",
			 RS_JOURNAL_DIR, MyDatabaseId, (int64) now, MyProcPid, counter++);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);

	if (text && ensure_dir() &&
		(fd = OpenTransientFile(tmp, O_WRONLY | O_CREAT | O_TRUNC | PG_BINARY)) >= 0)
	{
		size_t		len = strlen(text);

		ok = write(fd, text, len) == (ssize_t) len && pg_fsync(fd) == 0;
		if (CloseTransientFile(fd) != 0)
			ok = false;

		/*
		 * The content is on disk already: rename, then make the rename
		 * durable.  (durable_rename would also fsync the file under its new
		 * name, which the purge worker may have copied and removed by then.)
		 */
		ok = ok && rename(tmp, path) == 0 &&
			fsync_fname_ext(RS_JOURNAL_DIR, true, false, WARNING) == 0;
	}
	if (!ok)
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("reset_system could not write its attempt journal \"%s\": %m", path),
				 errdetail("The attempt is recorded in the server log only.")));
	free(text);
}

/*
 * read_file: the whole content of a small file, or NULL.
 */
static char *
read_file(const char *path)
{
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY);
	struct stat st;
	char	   *buf;
	ssize_t		n;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || st.st_size > 1024 * 1024)
	{
		CloseTransientFile(fd);
		return NULL;
	}
	buf = palloc(st.st_size + 1);
	n = read(fd, buf, st.st_size);
	CloseTransientFile(fd);
	if (n != st.st_size)
		return NULL;
	buf[n] = '\0';
	return buf;
}

/*
 * jstr: a string member of a JSON object, or NULL.
 */
static const char *
jstr(json_t *obj, const char *key)
{
	json_t	   *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/*
 * ingest_one: copy one journal entry into reset_system.attempts.  Returns
 * true when a row was inserted (false when it was already there).
 */
static bool
ingest_one(const char *name, json_t *obj)
{
	Oid			argtypes[15] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
		TEXTOID, TEXTOID, TEXTOID, INT8OID, INT8OID, TEXTOID, TEXTOID, TEXTOID, INT4OID};
	Datum		values[15];
	char		nulls[15];
	const char *strs[9] = {name, jstr(obj, "at"), jstr(obj, "role"), jstr(obj, "session_role"),
		jstr(obj, "database"), jstr(obj, "environment"), jstr(obj, "outcome"),
	jstr(obj, "reason"), jstr(obj, "sqlstate")};
	json_t	   *v;

	memset(nulls, ' ', sizeof(nulls));
	for (int i = 0; i < 9; i++)
	{
		values[i] = strs[i] ? CStringGetTextDatum(strs[i]) : (Datum) 0;
		nulls[i] = strs[i] ? ' ' : 'n';
	}
	v = json_object_get(obj, "reset_id");
	values[9] = Int64GetDatum(json_is_integer(v) ? json_integer_value(v) : 0);
	nulls[9] = json_is_integer(v) ? ' ' : 'n';
	v = json_object_get(obj, "rows_deleted");
	values[10] = Int64GetDatum(json_is_integer(v) ? json_integer_value(v) : 0);
	nulls[10] = json_is_integer(v) ? ' ' : 'n';
	values[11] = jstr(obj, "xid") ? CStringGetTextDatum(jstr(obj, "xid")) : (Datum) 0;
	nulls[11] = jstr(obj, "xid") ? ' ' : 'n';
	values[12] = jstr(obj, "client") ? CStringGetTextDatum(jstr(obj, "client")) : (Datum) 0;
	nulls[12] = jstr(obj, "client") ? ' ' : 'n';
	values[13] = jstr(obj, "application") ? CStringGetTextDatum(jstr(obj, "application")) : (Datum) 0;
	nulls[13] = jstr(obj, "application") ? ' ' : 'n';
	v = json_object_get(obj, "pid");
	values[14] = Int32GetDatum(json_is_integer(v) ? (int32) json_integer_value(v) : 0);

	return rs_spi("INSERT INTO reset_system.attempts (journal_name, at, role_name, session_role,"
				  " database_name, environment, outcome, reason, sqlstate, reset_id, rows_deleted,"
				  " transaction_id, client, application_name, backend_pid)"
				  " VALUES ($1, $2::pg_catalog.timestamptz, COALESCE($3, '?'), COALESCE($4, '?'),"
				  " COALESCE($5, '?'), COALESCE($6, 'unset'), COALESCE($7, '?'), $8, $9, $10, $11,"
				  " $12::pg_catalog.xid8, $13, $14, $15)"
				  " ON CONFLICT (journal_name) DO NOTHING",
				  15, argtypes, values, nulls, false, SPI_OK_INSERT) > 0;
}

/*
 * rs_journal_ingest: copy this database's journal entries into
 * reset_system.attempts (inside an SPI connection, with the rights to
 * write it).  The callback, when given, is called for every entry newly
 * inserted (to notify about it).  Returns the names of the files read; the
 * caller removes them once its transaction has committed.
 */
List *
rs_journal_ingest(void (*inserted) (struct json_t *entry))
{
	DIR		   *dir;
	struct dirent *de;
	char		prefix[32];
	List	   *names = NIL;

	snprintf(prefix, sizeof(prefix), "%u-", MyDatabaseId);
	dir = AllocateDir(RS_JOURNAL_DIR);
	if (dir == NULL)
		return NIL;				/* no journal yet */
	while ((de = ReadDirExtended(dir, RS_JOURNAL_DIR, DEBUG1)) != NULL)
	{
		char		path[MAXPGPATH];
		size_t		len = strlen(de->d_name);
		char	   *content;
		json_t	   *obj;
		json_error_t jerr;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
			len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", RS_JOURNAL_DIR, de->d_name);
		content = read_file(path);
		if (content == NULL)
			continue;
		obj = json_loads(content, 0, &jerr);
		if (obj == NULL)
		{
			ereport(WARNING,
					(errmsg("reset_system: ignoring unreadable attempt journal entry \"%s\": %s",
							path, jerr.text)));
			continue;
		}
		if (ingest_one(de->d_name, obj) && inserted)
			inserted(obj);
		json_decref(obj);
		names = lappend(names, pstrdup(de->d_name));
	}
	FreeDir(dir);
	return names;
}

/*
 * rs_journal_remove: remove journal files whose rows are committed.
 */
void
rs_journal_remove(List *names)
{
	ListCell   *lc;

	foreach(lc, names)
	{
		char		path[MAXPGPATH];

		snprintf(path, sizeof(path), "%s/%s", RS_JOURNAL_DIR, (char *) lfirst(lc));
		if (unlink(path) != 0 && errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("could not remove reset_system attempt journal \"%s\": %m", path)));
	}
}

/*
 * rs_journal_pending: does this database have journal entries not yet
 * copied into the table?
 */
bool
rs_journal_pending(Oid dboid)
{
	DIR		   *dir;
	struct dirent *de;
	char		prefix[32];
	bool		found = false;

	snprintf(prefix, sizeof(prefix), "%u-", dboid);
	dir = AllocateDir(RS_JOURNAL_DIR);
	if (dir == NULL)
		return false;
	while (!found && (de = ReadDirExtended(dir, RS_JOURNAL_DIR, DEBUG1)) != NULL)
	{
		size_t		len = strlen(de->d_name);

		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0 && len > 5 &&
			strcmp(de->d_name + len - 5, ".json") == 0)
			found = true;
	}
	FreeDir(dir);
	return found;
}

/*
 * rs_journal_this_attempt: journal an attempt of this transaction (its
 * outcome, the reason and SQLSTATE of an error, the reset concerned) and
 * make sure the worker copies it into reset_system.attempts after the
 * transaction ends, however it ends.
 */
void
rs_journal_this_attempt(const char *outcome, const char *reason, int sqlerrcode,
						int64 reset_id, int64 rows)
{
	RsAttempt	a;

	memset(&a, 0, sizeof(a));
	a.outcome = outcome;
	a.reason = reason;
	a.sqlstate = sqlerrcode ? unpack_sql_state(sqlerrcode) : NULL;
	a.reset_id = reset_id;
	a.rows_deleted = rows;
	a.xid = GetTopFullTransactionIdIfAny();
	rs_journal_attempt(&a);
	rs_commit_hook_mark_journal();
}
