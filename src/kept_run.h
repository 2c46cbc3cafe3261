/*-------------------------------------------------------------------------
 *
 * kept_run.h
 *	  Changing the kept rows that point into emptied tables, during a reset.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_KEPT_RUN_H
#define RESET_SYSTEM_KEPT_RUN_H

#include "postgres.h"

#include "lib/stringinfo.h"

#include "internal.h"
#include "plan.h"

extern const char *rs_kept_why(RsKeptFk *k);
extern int64 rs_kept_apply(RsSession *s, RsPlan *plan, int64 reset_id, StringInfo buf);
extern void rs_kept_check_owners(RsPlan *plan);
extern void rs_kept_drop_constraints(RsPlan *plan);
extern void rs_kept_recreate_constraints(RsPlan *plan);

#endif							/* RESET_SYSTEM_KEPT_RUN_H */
