/*-------------------------------------------------------------------------
 *
 * rebuild.h
 *	  Running the registered rebuild steps.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_REBUILD_H
#define RESET_SYSTEM_REBUILD_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "internal.h"
#include "plan.h"

extern void rs_run_rebuilds(RsSession *s, RsPlan *plan, StringInfo report, bool before);

/* rebuild_check.c: what a rebuild command may contain */
extern void rs_rebuild_check_command(RsSession *s, const char *label, const char *command);
extern char *rs_rebuild_normalize(const char *command);

#endif							/* RESET_SYSTEM_REBUILD_H */
