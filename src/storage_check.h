/*-------------------------------------------------------------------------
 *
 * storage_check.h
 *	  Live probes of the configured storage, run in a background worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_STORAGE_CHECK_H
#define RESET_SYSTEM_STORAGE_CHECK_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "nodes/pg_list.h"

#include "internal.h"
#include "storage.h"
#include "storage_config.h"

extern char *rs_storage_check_key(RsStorageConfig *cfg, const char *plan_token);
extern List *rs_storage_check_run(RsStorageConfig *cfg, const char *cache_key, int timeout_ms,
								  TimestampTz *checked_at, char **why);
extern List *rs_storage_check_cached(RsSession *s, const char *location, int max_age_ms,
									 TimestampTz *checked_at);

extern PGDLLEXPORT void rs_storage_check_main(Datum arg);

#endif							/* RESET_SYSTEM_STORAGE_CHECK_H */
