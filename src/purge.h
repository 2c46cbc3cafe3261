/*-------------------------------------------------------------------------
 *
 * purge.h
 *	  One round of the purge worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_PURGE_H
#define RESET_SYSTEM_PURGE_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

typedef struct RsPurgeRound
{
	/* in: where the previous round stopped walking the queue */
	int64		after_reset;
	int64		after_id;
	int			failing_rounds;	/* rounds in a row storage only said "retry" */

	/* out */
	bool		stop;			/* nothing more to do here for now: exit */
	bool		no_extension;	/* the extension is not installed here */
	bool		paused;			/* reset_system.purge_paused: no purge done */
	int			claimed;		/* rows handled in this round */
	int64		pending;		/* rows still pending after the round (only
								 * computed when nothing was claimed) */
	TimestampTz next_due;		/* earliest retry time among them */
	List	   *journal_done;	/* journal files copied in this round */
	int			sent_ok;		/* objects storage answered for good */
	int			sent_retry;		/* objects storage asked to retry */
	int64		backoff_ms;		/* wait this long before the next round */
	int			tried;			/* objects sent to storage in the round */
	int			not_deleted;	/* of them, not deleted (retried or failed) */
	int64		first_reset;	/* the reset of the first of those */
	char	   *first_error;	/* its error (valid until the round ends) */
	int			first_error_share;	/* objects that failed the same way */
} RsPurgeRound;

extern void rs_purge_round(RsPurgeRound *r);

/* Settings, defined in reset_system.c */
extern int	rs_purge_naptime_s;
extern int	rs_purge_batch_size;
extern int	rs_purge_max_attempts;
extern int	rs_purge_retry_base_ms;
extern int	rs_purge_retry_max_ms;
extern bool rs_purge_paused;

#endif							/* RESET_SYSTEM_PURGE_H */
