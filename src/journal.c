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
#include "access/xlog.h"
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
#include "jsontext.h"
#include "message.h"

#include "internal.h"
#include "commit_hook.h"
#include "journal.h"
#include "reset_system.h"

#define RS_JOURNAL_DIR "pg_reset_system/journal"

/* where damaged entries are moved (see move_aside) */
#define RS_JOURNAL_DAMAGED_DIR RS_JOURNAL_DIR "/damaged"

/* the size of the largest entry: bigger files are damaged */
#define RS_JOURNAL_FILE_MAX (64 * 1024)

/* the reason of an attempt is cut after this many characters */
#define RS_JOURNAL_REASON_MAX 2000

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
			(errmsg("reset_system attempt: outcome=\"%s\" database=\"%s\" environment=%s role=\"%s\" session_role=\"%s\" application=%s client=\"%s\" xid=\"%s\" reset_id=\"" INT64_FORMAT "\" rows=\"" INT64_FORMAT "\" sqlstate=\"%s\" reason=\"%s\"",
					a->outcome, or_empty(database), rs_message_value(or_empty(rs_environment)), or_empty(role),
					or_empty(session_role), rs_message_value(rs_application_name()), or_empty(client), xid,
					a->reset_id, a->rows_deleted, or_empty(a->sqlstate), or_empty(a->reason)),
			 errhidestmt(true)));

	obj = rs_json_object();
	json_object_set_new(obj, "at", json_string(timestamptz_to_str(now)));
	json_object_set_new(obj, "database_oid", json_integer(MyDatabaseId));
	/* text from the database is UTF-8 in JSON (see jsontext.c) */
	json_object_set_new(obj, "database", rs_json_text(or_empty(database)));
	json_object_set_new(obj, "environment", rs_json_text(or_empty(rs_environment)));
	json_object_set_new(obj, "role", rs_json_text(or_empty(role)));
	json_object_set_new(obj, "session_role", rs_json_text(or_empty(session_role)));
	json_object_set_new(obj, "outcome", json_string(a->outcome));
	json_object_set_new(obj, "reason", rs_json_text_max(a->reason, RS_JOURNAL_REASON_MAX));
	json_object_set_new(obj, "sqlstate", a->sqlstate ? json_string(a->sqlstate) : json_null());
	json_object_set_new(obj, "reset_id", a->reset_id > 0 ? json_integer(a->reset_id) : json_null());
	json_object_set_new(obj, "rows_deleted", a->rows_deleted >= 0 ? json_integer(a->rows_deleted) : json_null());
	json_object_set_new(obj, "xid", xid[0] ? json_string(xid) : json_null());
	json_object_set_new(obj, "client", client ? json_string(client) : json_null());
	json_object_set_new(obj, "application", rs_json_text(rs_application_name()));
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
 * read_file: the whole content of a small file, or NULL: with *why set
 * when the file is damaged (too big to be an entry, holds a NUL byte),
 * left NULL when it could not be read (gone meanwhile: another session
 * copied it).
 */
static char *
read_file(const char *path, char **why)
{
	/*
	 * Neither a link nor a named pipe planted under the journal's name is
	 * followed or waited on: the purge worker reads these files too.
	 */
	int			fd = OpenTransientFile(path, O_RDONLY | PG_BINARY | O_NONBLOCK | O_NOFOLLOW);
	struct stat st;
	char	   *buf;
	ssize_t		n;

	*why = NULL;
	if (fd < 0)
	{
		if (errno == ELOOP)
			*why = pstrdup("The file is a symbolic link");
		return NULL;
	}
	if (fstat(fd, &st) != 0)
	{
		CloseTransientFile(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode))
	{
		CloseTransientFile(fd);
		*why = pstrdup("It is not a regular file");
		return NULL;
	}
	if (st.st_size > RS_JOURNAL_FILE_MAX)
	{
		CloseTransientFile(fd);
		*why = psprintf("The file has %lld bytes, more than an entry ever holds (%d)",
						(long long) st.st_size, RS_JOURNAL_FILE_MAX);
		return NULL;
	}
	buf = palloc(st.st_size + 1);
	n = read(fd, buf, st.st_size);
	CloseTransientFile(fd);
	if (n != st.st_size)
		return NULL;
	buf[n] = '\0';
	if (strlen(buf) != (size_t) n)
	{
		*why = pstrdup("The file holds a NUL byte");
		return NULL;
	}
	return buf;
}

/*
 * jstr: a string member of a JSON object, in the database's encoding, or
 * NULL.
 */
static char *
jstr(json_t *obj, const char *key)
{
	json_t	   *v = json_object_get(obj, key);

	return json_is_string(v) ? rs_server_from_utf8(json_string_value(v)) : NULL;
}

/*
 * entry_damage: what is wrong with a journal entry (a palloc'd sentence),
 * or NULL when it has the shape rs_journal_attempt writes.  What only the
 * database can check (the timestamp, the conversion to its encoding) is
 * checked when the entry is stored.
 */
static char *
entry_damage(json_t *obj)
{
	static const char *const outcomes[] = {"refused", "failed", "executed",
		"unlocked", "locked", "restore refused", "restore failed",
	"restore executed"};
	static const char *const strings[] = {"at", "database", "environment", "role",
	"session_role", "outcome"};
	static const char *const optional_strings[] = {"reason", "sqlstate", "xid", "client",
	"application"};
	static const char *const integers[] = {"reset_id", "rows_deleted", "pid"};
	const char *outcome;
	const char *xid;
	bool		known = false;

	if (!json_is_object(obj))
		return pstrdup("The entry is not a JSON object");
	for (size_t i = 0; i < lengthof(strings); i++)
		if (!json_is_string(json_object_get(obj, strings[i])))
			return psprintf("\"%s\" is %s, not a string", strings[i],
							json_object_get(obj, strings[i]) ? "of another type" : "missing");
	for (size_t i = 0; i < lengthof(optional_strings); i++)
	{
		json_t	   *v = json_object_get(obj, optional_strings[i]);

		if (v && !json_is_string(v) && !json_is_null(v))
			return psprintf("\"%s\" is neither a string nor null", optional_strings[i]);
	}
	for (size_t i = 0; i < lengthof(integers); i++)
	{
		json_t	   *v = json_object_get(obj, integers[i]);

		if (v && !json_is_integer(v) && !json_is_null(v))
			return psprintf("\"%s\" is neither an integer nor null", integers[i]);
		if (json_is_integer(v) && json_integer_value(v) < 0)
			return psprintf("\"%s\" is negative", integers[i]);
	}
	if (json_is_integer(json_object_get(obj, "pid")) &&
		json_integer_value(json_object_get(obj, "pid")) > PG_INT32_MAX)
		return pstrdup("\"pid\" is out of range");
	if (strlen(json_string_value(json_object_get(obj, "at"))) > 64)
		return psprintf("\"at\" is not a timestamp: %s",
						rs_message_value(json_string_value(json_object_get(obj, "at"))));
	outcome = json_string_value(json_object_get(obj, "outcome"));
	for (size_t i = 0; i < lengthof(outcomes); i++)
		if (strcmp(outcome, outcomes[i]) == 0)
			known = true;
	if (!known)
		return psprintf("Unknown outcome %s", rs_message_value(outcome));
	xid = json_string_value(json_object_get(obj, "xid"));
	if (xid && (xid[0] == '\0' || strspn(xid, "0123456789") != strlen(xid) || strlen(xid) > 20))
		return psprintf("\"xid\" is not a transaction id: %s", rs_message_value(xid));
	return NULL;
}

/*
 * move_aside: move a damaged journal file into the damaged/ subdirectory
 * (durably: it must neither come back nor be lost after a crash), so that
 * it stops every later copy from failing and stays for the operator to
 * read.  Says so in a WARNING naming the file and what was wrong.
 */
static void
move_aside(const char *name, const char *why)
{
	char		path[MAXPGPATH];
	char		target[MAXPGPATH];

	snprintf(path, sizeof(path), "%s/%s", RS_JOURNAL_DIR, name);
	snprintf(target, sizeof(target), "%s/%s", RS_JOURNAL_DAMAGED_DIR, name);
	if (MakePGDirectory(RS_JOURNAL_DAMAGED_DIR) < 0 && errno != EEXIST)
	{
		ereport(WARNING,
				(errcode_for_file_access(),
				 errmsg("reset_system attempt journal entry \"%s\" is damaged and could not be moved aside: %m",
						path),
				 errdetail("%s.", why),
				 errhint("Move or remove the file by hand.")));
		return;
	}
	if (rename(path, target) != 0)
	{
		/* another session moved it meanwhile: it said so */
		if (errno != ENOENT)
			ereport(WARNING,
					(errcode_for_file_access(),
					 errmsg("reset_system attempt journal entry \"%s\" is damaged and could not be moved aside: %m",
							path),
					 errdetail("%s.", why),
					 errhint("Move or remove the file by hand.")));
		return;
	}
	(void) fsync_fname_ext(RS_JOURNAL_DAMAGED_DIR, true, false, WARNING);
	(void) fsync_fname_ext(RS_JOURNAL_DIR, true, false, WARNING);
	ereport(WARNING,
			(errcode(ERRCODE_DATA_CORRUPTED),
			 errmsg("reset_system moved the damaged attempt journal entry \"%s\" to \"%s\"",
					path, target),
			 errdetail("%s. The attempt it recorded is not in reset_system.attempts.", why),
			 errhint("Read the file (and the server log's \"reset_system attempt\" lines), then remove it.")));
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
	const char *xid = jstr(obj, "xid");
	const char *client = jstr(obj, "client");
	const char *application = jstr(obj, "application");
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
	values[11] = xid ? CStringGetTextDatum(xid) : (Datum) 0;
	nulls[11] = xid ? ' ' : 'n';
	values[12] = client ? CStringGetTextDatum(client) : (Datum) 0;
	nulls[12] = client ? ' ' : 'n';
	values[13] = application ? CStringGetTextDatum(application) : (Datum) 0;
	nulls[13] = application ? ' ' : 'n';
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
 * ingest_guarded: ingest_one in a subtransaction, so that an entry the
 * database cannot take (a timestamp it cannot read, text without an
 * equivalent in its encoding) costs only that entry.  Returns false with
 * *why set when it failed; *inserted says whether a row was inserted.
 */
static bool
ingest_guarded(const char *name, json_t *obj, bool *inserted, char **why)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = true;

	*why = NULL;
	*inserted = false;
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		*inserted = ingest_one(name, obj);
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
		/*
		 * Only bad data is the entry's fault; anything else (a cancel, a
		 * shutdown, a lack of memory) is raised as it is.
		 */
		if (ERRCODE_TO_CATEGORY(edata->sqlerrcode) != ERRCODE_DATA_EXCEPTION)
			ReThrowError(edata);
		*why = psprintf("The database could not store it: %s", edata->message);
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/*
 * rs_journal_ingest: copy this database's journal entries into
 * reset_system.attempts (inside an SPI connection, with the rights to
 * write it).  The callback, when given, is called for every entry newly
 * inserted (to notify about it).  Returns the names of the files read; the
 * caller removes them once its transaction has committed.  A damaged
 * entry is moved aside (see move_aside) and the others are copied still.
 * In a read-only transaction (on a hot standby too) nothing is copied.
 */
List *
rs_journal_ingest(void (*inserted) (struct json_t *entry))
{
	DIR		   *dir;
	struct dirent *de;
	char		prefix[32];
	List	   *names = NIL;

	/* nothing can be copied now: a later read-write caller (the worker) will */
	if (RecoveryInProgress() || XactReadOnly)
		return NIL;
	snprintf(prefix, sizeof(prefix), "%u-", MyDatabaseId);
	dir = AllocateDir(RS_JOURNAL_DIR);
	if (dir == NULL)
		return NIL;				/* no journal yet */
	while ((de = ReadDirExtended(dir, RS_JOURNAL_DIR, DEBUG1)) != NULL)
	{
		char		path[MAXPGPATH];
		size_t		len = strlen(de->d_name);
		char	   *content;
		char	   *why;
		bool		added;
		json_t	   *obj;
		json_error_t jerr;

		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
			len < 6 || strcmp(de->d_name + len - 5, ".json") != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", RS_JOURNAL_DIR, de->d_name);
		content = read_file(path, &why);
		if (content == NULL)
		{
			if (why)
				move_aside(de->d_name, why);
			continue;
		}
		/* jansson also refuses text that is not UTF-8 */
		obj = json_loads(content, JSON_REJECT_DUPLICATES, &jerr);
		if (obj == NULL)
		{
			move_aside(de->d_name,
					   psprintf("It is not valid JSON: %s (line %d, column %d)",
								jerr.text, jerr.line, jerr.column));
			continue;
		}
		why = entry_damage(obj);
		if (why == NULL && !ingest_guarded(de->d_name, obj, &added, &why))
			Assert(why != NULL);
		if (why)
		{
			json_decref(obj);
			move_aside(de->d_name, why);
			continue;
		}
		if (added && inserted)
			inserted(obj);
		json_decref(obj);
		names = lappend(names, pstrdup(de->d_name));
	}
	FreeDir(dir);
	return names;
}

/*
 * rs_journal_damaged_note: a sentence saying how many journal entries of
 * this database were moved aside as damaged, or NULL when none was.
 */
char *
rs_journal_damaged_note(void)
{
	DIR		   *dir;
	struct dirent *de;
	char		prefix[32];
	int			n = 0;

	snprintf(prefix, sizeof(prefix), "%u-", MyDatabaseId);
	dir = AllocateDir(RS_JOURNAL_DAMAGED_DIR);
	if (dir == NULL)
		return NULL;
	while ((de = ReadDirExtended(dir, RS_JOURNAL_DAMAGED_DIR, DEBUG1)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	FreeDir(dir);
	if (n == 0)
		return NULL;
	return psprintf("Note: %d damaged attempt journal file(s) of this database were moved aside to "
					"$PGDATA/%s; the server log's WARNINGs say what was wrong. Read them, then remove them.",
					n, RS_JOURNAL_DAMAGED_DIR);
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
