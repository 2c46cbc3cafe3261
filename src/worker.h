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
#include "postmaster/bgworker.h"

#define RS_WORKER_TYPE		"reset_system purge worker"
#define RS_LAUNCHER_TYPE	"reset_system purge launcher"

/*
 * Advisory locks (key, sub-key) of a database's purge: the worker holds
 * (RS_ADVISORY_KEY, RS_ADVISORY_WORKER) while it runs, a backend starting
 * one holds (RS_ADVISORY_KEY, RS_ADVISORY_KICK) until it has taken over.
 */
#define RS_ADVISORY_KEY		1381194067
#define RS_ADVISORY_WORKER	1
#define RS_ADVISORY_KICK	2

extern bool rs_purge_worker_start(Oid dboid, bool at_commit);
extern bool rs_purge_worker_register(Oid dboid, bool at_commit,
									 BackgroundWorkerHandle **handle);
extern void rs_launcher_register(void);

extern PGDLLEXPORT void rs_purge_worker_main(Datum arg);
extern PGDLLEXPORT void rs_launcher_main(Datum arg);

#endif							/* RESET_SYSTEM_WORKER_H */
