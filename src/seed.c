/*-------------------------------------------------------------------------
 *
 * seed.c
 *	  reset_seed_object(): a rebuild step puts a bundled resource file back
 *	  into storage (a default avatar, a logo a baseline row points at).
 *
 * Like every storage write, the upload waits for the commit: the call
 * queues an "upload" row in the reset's transaction, and the purge worker
 * sends the file once the purge of the same reset has nothing pending, so
 * the fresh copy cannot be deleted by the purge it follows.  The key is
 * also dropped from that purge (rs_queue_spare).
 *
 * The file is read by the server, so the role that registered the rebuild
 * step must be allowed to read server files (superuser or
 * pg_read_server_files), as for COPY FROM a file.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/fd.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "commit_hook.h"
#include "execute.h"
#include "internal.h"
#include "reset_system.h"
#include "seed.h"
#include "storage_config.h"

PG_FUNCTION_INFO_V1(reset_seed_object);

/* The file is read this much at a time, with an interrupt check between */
#define RS_SEED_CHUNK (1024 * 1024)

/*
 * file_kind: what a path that is not a regular file turned out to be.
 */
static const char *
file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a named pipe";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/*
 * file_errcode: the SQLSTATE of a failed open, as errcode_for_file_access
 * chooses it (which can only be called while an error is being built).
 */
static int
file_errcode(int e)
{
	switch (e)
	{
		case ENOENT:
		case ENOTDIR:
			return ERRCODE_UNDEFINED_FILE;
		case EACCES:
		case EPERM:
			return ERRCODE_INSUFFICIENT_PRIVILEGE;
		default:
			return ERRCODE_IO_ERROR;
	}
}

/*
 * rs_seed_open: open a resource file for reading, or return -1 with
 * *sqlerrcode and *error set.  The path is opened without following a
 * symbolic link and without blocking, then checked with fstat on the open
 * descriptor (so what is checked is what is read): a named pipe, a device
 * or a directory planted in place of the file is refused at once instead
 * of hanging the caller or feeding it endless bytes, and a link cannot
 * point the server at a file its owner did not mean to publish.
 */
int
rs_seed_open(const char *path, off_t *size, int *sqlerrcode, char **error)
{
	struct stat st;
	int			fd;

	fd = OpenTransientFile(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC | PG_BINARY);
	if (fd < 0)
	{
		int			save_errno = errno;

		if (save_errno == ELOOP)
		{
			*sqlerrcode = ERRCODE_WRONG_OBJECT_TYPE;
			*error = psprintf("source file \"%s\" is a symbolic link", path);
		}
		else
		{
			*sqlerrcode = file_errcode(save_errno);
			errno = save_errno;
			*error = psprintf("cannot read source file \"%s\": %m", path);
		}
		return -1;
	}
	if (fstat(fd, &st) != 0)
	{
		*sqlerrcode = file_errcode(errno);
		*error = psprintf("cannot read source file \"%s\": %m", path);
		CloseTransientFile(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode))
	{
		*sqlerrcode = ERRCODE_WRONG_OBJECT_TYPE;
		*error = psprintf("source file \"%s\" is %s, not a regular file", path, file_kind(st.st_mode));
		CloseTransientFile(fd);
		return -1;
	}
	if (st.st_size > RS_SEED_MAX_BYTES)
	{
		*sqlerrcode = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
		*error = psprintf("source file \"%s\" is larger than %d MB (%lld bytes)", path,
						  RS_SEED_MAX_BYTES / (1024 * 1024), (long long) st.st_size);
		CloseTransientFile(fd);
		return -1;
	}
	*size = st.st_size;
	return fd;
}

/*
 * rs_seed_read: the content of a resource file (NUL-terminated), or NULL
 * with *error set.  It reads in chunks and checks for interrupts between
 * them, so a purge worker told to stop does not finish a large file first.
 */
char *
rs_seed_read(const char *path, size_t *len, char **error)
{
	int			sqlerrcode;
	off_t		size = 0;
	int			fd = rs_seed_open(path, &size, &sqlerrcode, error);
	char	   *data;
	size_t		done = 0;

	if (fd < 0)
		return NULL;
	data = palloc(size + 1);
	while (done < (size_t) size)
	{
		size_t		want = Min((size_t) size - done, (size_t) RS_SEED_CHUNK);
		ssize_t		got;

		CHECK_FOR_INTERRUPTS();
		got = read(fd, data + done, want);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
		{
			*error = psprintf("could not read source file \"%s\": %m", path);
			break;
		}
		if (got == 0)
		{
			*error = psprintf("source file \"%s\" became shorter while it was read", path);
			break;
		}
		done += got;
	}
	CloseTransientFile(fd);
	if (done < (size_t) size)
	{
		pfree(data);
		return NULL;
	}
	data[done] = '\0';
	*len = done;
	return data;
}

/*
 * check_source: the file exists, is a regular file, is not too big, and
 * the current role may read server files.
 */
static void
check_source(const char *path)
{
	int			fd;
	off_t		size;
	int			sqlerrcode;
	char	   *error;

	if (!superuser() && !has_privs_of_role(GetUserId(), ROLE_PG_READ_SERVER_FILES))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to read server file \"%s\" for reset_seed_object", path),
				 errdetail("Role \"%s\" runs this rebuild step and is neither a superuser nor a member of pg_read_server_files.",
						   GetUserNameFromId(GetUserId(), false)),
				 errhint("GRANT pg_read_server_files TO %s; (as a superuser), or register the rebuild step as a role that has it.",
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
	if (!is_absolute_path(path))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("source path \"%s\" of reset_seed_object must be absolute", path),
				 errhint("Give the full path of the file on the database server, e.g. '/srv/app/seed/logo.png'.")));
	fd = rs_seed_open(path, &size, &sqlerrcode, &error);
	if (fd < 0)
		ereport(ERROR,
				(errcode(sqlerrcode),
				 errmsg("%s", error),
				 errdetail("reset_seed_object uploads regular files of up to %d MB; the path must name the file itself "
						   "(not a symbolic link, a directory, a device or a named pipe).",
						   RS_SEED_MAX_BYTES / (1024 * 1024)),
				 errhint("The file is read by the database server, so it must exist on the server's machine.")));
	CloseTransientFile(fd);
}

/*
 * reset_seed_object(key text, source_path text) returns text
 */
Datum
reset_seed_object(PG_FUNCTION_ARGS)
{
	char	   *key;
	char	   *path;
	int64		reset_id = rs_execute_current_reset();
	const char *problem;
	RsStorageConfig *cfg;
	RsSession	s;
	Oid			argtypes[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];

	if (reset_id == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("reset_seed_object can only be called by a rebuild step of reset_execute"),
				 errdetail("The upload is queued in the reset's transaction and sent after its purge."),
				 errhint("Register a rebuild step that calls it, e.g. SELECT reset_register_rebuild('logo', "
						 "$$SELECT reset_seed_object('branding/logo.png', '/srv/app/seed/logo.png')$$);")));
	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("reset_seed_object needs a key and a source path")));
	key = text_to_cstring(PG_GETARG_TEXT_PP(0));
	path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	problem = rs_storage_key_problem(key, false);
	if (problem)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid storage key \"%s\" for reset_seed_object: %s", key, problem)));
	check_source(path);

	rs_enter(&s);
	SPI_connect();
	cfg = rs_storage_config_load(&s);
	if (cfg == NULL || cfg->backend == NULL || cfg->driver == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("reset_seed_object has no storage to upload \"%s\" to", key),
				 errhint("Configure storage first, e.g. SELECT reset_configure_storage('file', '{\"root\": \"/srv/app/media\"}');")));
	if (cfg->driver->put_object == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("storage backend \"%s\" cannot upload objects", cfg->backend)));

	values[0] = Int64GetDatum(reset_id);
	values[1] = CStringGetTextDatum(key);
	values[2] = CStringGetTextDatum(path);
	rs_as_owner_begin(&s);
	rs_spi("INSERT INTO reset_system.purge_queue (reset_id, kind, key, source)"
		   " VALUES ($1, 'upload', $2, $3)"
		   " ON CONFLICT (reset_id, kind, key) DO UPDATE SET source = EXCLUDED.source",
		   3, argtypes, values, NULL, false, SPI_OK_INSERT);
	rs_as_owner_end(&s);
	SPI_finish();
	rs_leave(&s);

	rs_commit_hook_mark_reset();
	PG_RETURN_TEXT_P(cstring_to_text(psprintf("%s will be uploaded to %s after the purge", path, key)));
}
