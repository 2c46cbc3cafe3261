/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The purge worker (one per database) and the launcher (preloaded).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_WORKER_H
#define RESET_SYSTEM_WORKER_H

#include "postgres.h"

#include "fmgr.h"

#define RS_WORKER_TYPE		"reset_system purge worker"
#define RS_LAUNCHER_TYPE	"reset_system purge launcher"

extern bool rs_purge_worker_start(Oid dboid, bool at_commit);
extern void rs_launcher_register(void);

extern PGDLLEXPORT void rs_purge_worker_main(Datum arg);
extern PGDLLEXPORT void rs_launcher_main(Datum arg);

#endif							/* RESET_SYSTEM_WORKER_H */
