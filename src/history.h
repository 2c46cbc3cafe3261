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

/* What a reset adds to its plan in the history row */
typedef struct RsResetRecord
{
	int64		id;
	TimestampTz started;
	int64		purge_objects;	/* keys queued */
	bool		purge_prefixes; /* prefixes queued */
	int64		uploads;		/* resource files queued for upload */
	List	   *terminated;		/* char *: sessions terminated */
	int64		unlock_id;		/* the unlock it used, 0 if none */
} RsResetRecord;

extern int64 rs_history_reserve_id(RsSession *s);
extern void rs_history_record(RsSession *s, RsPlan *plan, const RsResetRecord *rec);

#endif							/* RESET_SYSTEM_HISTORY_H */
