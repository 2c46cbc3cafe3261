/*-------------------------------------------------------------------------
 *
 * shmem.h
 *	  Shared state of the purge launcher and workers (preloaded only).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_SHMEM_H
#define RESET_SYSTEM_SHMEM_H

#include "postgres.h"

#include "nodes/pg_list.h"

extern bool rs_preloaded;

extern void rs_shmem_init(void);
extern bool rs_shmem_wake(Oid dboid);
extern void rs_shmem_launcher_attach(void);
extern void rs_shmem_launcher_detach(void);
extern bool rs_shmem_needs_worker(Oid dboid, bool all);
extern void rs_shmem_start_failed(Oid dboid);
extern List *rs_shmem_wake_requests(void);
extern bool rs_shmem_worker_attach(Oid dboid);
extern bool rs_shmem_worker_detach(Oid dboid, bool force, bool forget);
extern pid_t rs_shmem_worker_pid(Oid dboid);

#endif							/* RESET_SYSTEM_SHMEM_H */
