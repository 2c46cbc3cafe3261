/*-------------------------------------------------------------------------
 *
 * commit_hook.h
 *	  Waking the purge worker when a reset commits.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_COMMIT_HOOK_H
#define RESET_SYSTEM_COMMIT_HOOK_H

#include "postgres.h"

extern void rs_commit_hook_register(void);
extern void rs_commit_hook_mark_reset(void);
extern void rs_commit_hook_mark_wake(void);
extern void rs_commit_hook_mark_journal(void);
extern bool rs_commit_hook_reset_pending(void);

#endif							/* RESET_SYSTEM_COMMIT_HOOK_H */
