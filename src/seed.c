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

#include <sys/stat.h>

#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"

#include "commit_hook.h"
#include "execute.h"
#include "internal.h"
#include "reset_system.h"
#include "storage_config.h"

PG_FUNCTION_INFO_V1(reset_seed_object);

/* Largest resource file accepted (the worker holds it in memory) */
#define RS_SEED_MAX_BYTES (64 * 1024 * 1024)

/*
 * check_source: the file exists, is a regular file, is not too big, and
 * the current role may read server files.
 */
static void
check_source(const char *path)
{
	struct stat st;

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
	if (stat(path, &st) != 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("cannot read source file \"%s\" for reset_seed_object: %m", path),
				 errhint("The file is read by the database server, so it must exist on the server's machine.")));
	if (!S_ISREG(st.st_mode))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("source path \"%s\" of reset_seed_object is not a regular file", path)));
	if (st.st_size > RS_SEED_MAX_BYTES)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("source file \"%s\" is too large for reset_seed_object (%lld bytes)", path,
						(long long) st.st_size),
				 errdetail("Resource files of up to %d MB can be seeded.", RS_SEED_MAX_BYTES / (1024 * 1024))));
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
