/*-------------------------------------------------------------------------
 *
 * queue.h
 *	  Filling the purge queue inside the reset's transaction.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_QUEUE_H
#define RESET_SYSTEM_QUEUE_H

#include "postgres.h"

#include "internal.h"
#include "plan.h"

/*
 * Storage columns read by one statement at most: a statement over
 * thousands of tables costs the planner memory in proportion to the whole.
 */
#define RS_KEY_CHUNK 100

extern char *rs_queue_key_sources(List *tables, bool all);
extern List *rs_queue_key_source_chunks(List *tables, bool all);
extern int64 rs_queue_plan_count(RsPlan *plan);
extern int64 rs_queue_capture(RsSession *s, RsPlan *plan, int64 reset_id);
extern int64 rs_queue_spare(RsSession *s, RsPlan *plan, int64 reset_id);
extern int64 rs_queue_uploads(RsSession *s, int64 reset_id);

#endif							/* RESET_SYSTEM_QUEUE_H */
