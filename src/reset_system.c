/*-------------------------------------------------------------------------
 *
 * reset_system.c
 *	  Library entry point: module magic, _PG_init and the settings.
 *
 * The library is loaded either through shared_preload_libraries or on the
 * first call of one of its SQL functions.  _PG_init must work in both
 * cases and never raise an error: a dynamic background worker also loads
 * the library through here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "backup.h"
#include "commit_hook.h"
#include "compat.h"
#include "purge.h"
#include "reset_system.h"
#include "shmem.h"
#include "storage.h"
#include "worker.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Settings (see README.md, "Settings") */
char	   *rs_environment = NULL;
int			rs_lock_timeout_ms = 5000;
int			rs_mode = RS_MODE_TRUNCATE;
int			rs_small_table_rows = 1000;
bool		rs_restart_identity = true;
char	   *rs_protected_environments = NULL;
bool		rs_allow_reset = true;
int			rs_max_rows = 0;
bool		rs_terminate_blockers = false;
char	   *rs_webhook_url = NULL;
int			rs_purge_naptime_s = 60;
int			rs_purge_concurrency = 16;
int			rs_storage_check_cache_ms = 60000;
int			rs_storage_timeout_ms = 30000;
char	   *rs_s3_credentials_file = NULL;
char	   *rs_gcs_token_file = NULL;
char	   *rs_gcs_token_command = NULL;
char	   *rs_http_authorization_file = NULL;
char	   *rs_azure_sas_token_file = NULL;
char	   *rs_azure_shared_key_file = NULL;
char	   *rs_azure_metadata_host = NULL;
int			rs_purge_batch_size = 0;
int			rs_purge_max_attempts = 10;
int			rs_purge_retry_base_ms = 1000;
int			rs_purge_retry_max_ms = 300000;
bool		rs_purge_paused = false;

static const struct config_enum_entry rs_mode_options[] = {
	{"truncate", RS_MODE_TRUNCATE, false},
	{"delete", RS_MODE_DELETE, false},
	{NULL, 0, false}
};

/*
 * rs_mode_name: the setting value spelled as a user would type it.
 */
const char *
rs_mode_name(int mode)
{
	return mode == RS_MODE_DELETE ? "delete" : "truncate";
}

/*
 * define_safety_settings: the guards.  Who may change each one is part of
 * the safety model: the environment label and the protected list are
 * superuser settings (per database with ALTER DATABASE), the kill switch
 * and the webhook only exist server-wide, and the size guard may be raised
 * by the operator, explicitly, for one transaction.
 */
static void
define_safety_settings(void)
{
	DefineCustomStringVariable("reset_system.protected_environments",
							   "Comma-separated environments where a reset needs a prior reset_unlock().",
							   NULL,
							   &rs_protected_environments,
							   "production",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("reset_system.allow_reset",
							 "Allow resets on this server at all (the kill switch).",
							 "When off, every reset is refused, whatever the role, phrase or unlock.",
							 &rs_allow_reset,
							 true,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("reset_system.max_rows",
							"Refuse a reset that would delete more rows than this (0: no limit).",
							"Raise it with SET LOCAL in the reset's transaction to go ahead.",
							&rs_max_rows,
							0, 0, INT_MAX,
							PGC_USERSET, 0,
							NULL, NULL, NULL);
	DefineCustomBoolVariable("reset_system.terminate_blockers",
							 "After the lock timeout, terminate the sessions that hold locks on the tables a reset empties.",
							 "For staging servers where the application is still running.",
							 &rs_terminate_blockers,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
	DefineCustomStringVariable("reset_system.webhook_url",
							   "URL the purge worker POSTs a JSON message to for resets, refusals in protected environments and finished purges.",
							   NULL,
							   &rs_webhook_url,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
}

/*
 * define_purge_settings: the settings of the purge worker.  They are read
 * by the worker, so they are set in postgresql.conf or with ALTER SYSTEM
 * and take effect on reload.
 */
static void
define_purge_settings(void)
{
	DefineCustomIntVariable("reset_system.purge_naptime",
							"How often the launcher looks for pending purges, and the longest a worker sleeps.",
							NULL,
							&rs_purge_naptime_s,
							60, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("reset_system.purge_batch_size",
							"Queue rows a purge worker handles per transaction (0: the backend's own batch size).",
							NULL,
							&rs_purge_batch_size,
							0, 0, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("reset_system.purge_max_attempts",
							"Attempts before a storage object is marked failed.",
							NULL,
							&rs_purge_max_attempts,
							10, 1, 1000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("reset_system.purge_retry_base",
							"Delay before the first retry of a failed storage delete; it doubles with every attempt.",
							NULL,
							&rs_purge_retry_base_ms,
							1000, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("reset_system.purge_retry_max",
							"Longest delay between two retries of a storage delete.",
							NULL,
							&rs_purge_retry_max_ms,
							300000, 1, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("reset_system.purge_concurrency",
							"Storage requests a purge worker keeps in flight at once.",
							NULL,
							&rs_purge_concurrency,
							16, 1, 256,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("reset_system.storage_check_cache",
							"How long a plan reuses the last live storage check; -1 leaves the check out of plans.",
							NULL,
							&rs_storage_check_cache_ms,
							60000, -1, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS,
							NULL, NULL, NULL);
	DefineCustomIntVariable("reset_system.storage_timeout",
							"Longest a single storage request may take.",
							NULL,
							&rs_storage_timeout_ms,
							30000, 100, 600000,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);

	/*
	 * Credentials are named by these settings, never held in them: a
	 * configuration reload logs the new value of every changed setting,
	 * and a secret must never reach the log.  GUC_SUPERUSER_ONLY keeps even
	 * the file names from other roles.
	 */
	DefineCustomStringVariable("reset_system.s3_credentials_file",
							   "File with the S3 credentials, in the AWS shared-credentials format.",
							   "Without it, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN from the server's environment are used.",
							   &rs_s3_credentials_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("reset_system.gcs_token_file",
							   "File holding a GCS access token (raw, or Google's JSON with access_token and expires_in).",
							   NULL,
							   &rs_gcs_token_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("reset_system.gcs_token_command",
							   "Command printing a GCS access token (raw, or Google's JSON with access_token and expires_in).",
							   NULL,
							   &rs_gcs_token_command,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("reset_system.http_authorization_file",
							   "File holding the Authorization header value for the http storage backend.",
							   NULL,
							   &rs_http_authorization_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("reset_system.azure_sas_token_file",
							   "File holding a SAS token for the azure storage backend.",
							   NULL,
							   &rs_azure_sas_token_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("reset_system.azure_shared_key_file",
							   "File holding the storage account key (base64) for the azure storage backend.",
							   "Without it or a SAS token file, a managed identity's token is used.",
							   &rs_azure_shared_key_file,
							   "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("reset_system.azure_metadata_host",
							   "Host (and port) of the instance metadata endpoint that gives the azure backend a managed identity's token.",
							   "Empty: Azure's own, 169.254.169.254.",
							   &rs_azure_metadata_host,
							   "",
							   PGC_SIGHUP, 0,
							   NULL, NULL, NULL);
	DefineCustomBoolVariable("reset_system.purge_paused",
							 "Pause every purge worker (the queue keeps the work).",
							 NULL,
							 &rs_purge_paused,
							 false,
							 PGC_SIGHUP, 0,
							 NULL, NULL, NULL);
}

/*
 * define_backup_settings: the undo window (backup.c, restore.c).
 */
static void
define_backup_settings(void)
{
	DefineCustomBoolVariable("reset_system.backup",
							 "Copy the rows a reset deletes into schema reset_backup_<id> first, for reset_restore().",
							 "reset_execute's backup argument overrides it.",
							 &rs_backup_default,
							 false,
							 PGC_USERSET, 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("reset_system.backup_keep",
							"Backups kept; a reset drops older ones in its own transaction (0: keep all).",
							NULL,
							&rs_backup_keep,
							3, 0, 100000,
							PGC_SIGHUP, 0,
							NULL, NULL, NULL);
	DefineCustomIntVariable("reset_system.purge_delay",
							"How long after a reset commits its storage purge may start (an undo window).",
							"Set it, for example to 1h, when a backup is taken: a restore within the delay brings back rows whose files still exist.",
							&rs_purge_delay_s,
							0, 0, 30 * 24 * 3600,
							PGC_USERSET, GUC_UNIT_S,
							NULL, NULL, NULL);
}

/*
 * _PG_init: define the settings, install the commit hook, and, when
 * preloaded, set up shared memory and the purge launcher.
 *
 * reset_system.environment is PGC_SUSET: only a superuser (typically with
 * ALTER DATABASE ... SET) may label a database, so an application role
 * cannot relabel production as something harmless.
 */
void
_PG_init(void)
{
	DefineCustomStringVariable("reset_system.environment",
							   "Label of the environment this database belongs to.",
							   "Shown in every plan and recorded with every reset. "
							   "Set it per database with ALTER DATABASE ... SET.",
							   &rs_environment,
							   RS_ENV_UNSET,
							   PGC_SUSET,
							   0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("reset_system.lock_timeout",
							"Longest time a reset waits for the locks on the tables it deletes.",
							"When it runs out, the reset fails and names the sessions holding the locks.",
							&rs_lock_timeout_ms,
							5000,
							1, INT_MAX,
							PGC_USERSET,
							GUC_UNIT_MS,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("reset_system.mode",
							 "How a reset empties the tables it deletes.",
							 "truncate: one TRUNCATE statement, with small trigger-free tables emptied by DELETE. "
							 "delete: DELETE in foreign-key order, so row triggers fire.",
							 &rs_mode,
							 RS_MODE_TRUNCATE,
							 rs_mode_options,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	DefineCustomIntVariable("reset_system.small_table_rows",
							"Tables with at most this many rows are emptied with DELETE in truncate mode.",
							"Emptying a small table with DELETE avoids creating new files for it and its indexes. "
							"0 makes truncate mode use TRUNCATE for every non-empty table.",
							&rs_small_table_rows,
							1000,
							0, INT_MAX,
							PGC_USERSET,
							0,
							NULL, NULL, NULL);

	DefineCustomBoolVariable("reset_system.restart_identity",
							 "Restart the sequences of the tables a reset empties at their start value.",
							 "off continues them where they are, so that an id a stale reference still holds "
							 "(in another system, a cache, a generic reference) is never given to a new row.",
							 &rs_restart_identity,
							 true,
							 PGC_USERSET,
							 0,
							 NULL, NULL, NULL);

	define_safety_settings();
	define_purge_settings();
	define_backup_settings();
	rs_reserve_guc_prefix("reset_system");

	rs_commit_hook_register();
	if (process_shared_preload_libraries_in_progress)
	{
		rs_shmem_init();
		rs_launcher_register();
	}
}
