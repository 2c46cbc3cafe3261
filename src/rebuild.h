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

extern void rs_run_rebuilds(RsSession *s, RsPlan *plan, StringInfo report);

#endif							/* RESET_SYSTEM_REBUILD_H */
