/*-------------------------------------------------------------------------
 *
 * history.h
 *	  The record of every completed reset (reset_system.history).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_HISTORY_H
#define RESET_SYSTEM_HISTORY_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "internal.h"
#include "plan.h"

extern int64 rs_history_reserve_id(RsSession *s);
extern int64 rs_history_record(RsSession *s, RsPlan *plan, int64 id,
							   TimestampTz started, int64 purge_objects,
							   bool purge_prefixes);

#endif							/* RESET_SYSTEM_HISTORY_H */
