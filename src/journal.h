/*-------------------------------------------------------------------------
 *
 * journal.h
 *	  The durable record of every reset attempt (outside the caller's
 *	  transaction).
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_JOURNAL_H
#define RESET_SYSTEM_JOURNAL_H

#include "postgres.h"

#include "access/transam.h"
#include "nodes/pg_list.h"

typedef struct RsAttempt
{
	const char *outcome;		/* refused, failed, executed, unlocked, locked */
	const char *reason;
	const char *sqlstate;
	int64		reset_id;		/* 0: none */
	int64		rows_deleted;	/* -1: unknown */
	FullTransactionId xid;		/* invalid: none */
} RsAttempt;

extern void rs_journal_attempt(const RsAttempt *a);
extern void rs_journal_this_attempt(const char *outcome, const char *reason, int sqlerrcode,
									int64 reset_id, int64 rows);
struct json_t;
extern List *rs_journal_ingest(void (*inserted) (struct json_t *entry));
extern void rs_journal_remove(List *names);
extern bool rs_journal_pending(Oid dboid);
extern char *rs_journal_damaged_note(void);

#endif							/* RESET_SYSTEM_JOURNAL_H */
