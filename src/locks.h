/*-------------------------------------------------------------------------
 *
 * locks.h
 *	  Taking the reset's locks with a bounded wait.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_LOCKS_H
#define RESET_SYSTEM_LOCKS_H

#include "postgres.h"

#include "nodes/pg_list.h"
#include "storage/lockdefs.h"

extern List *rs_lock_relations(List *relids, LOCKMODE mode, int timeout_ms);

#endif							/* RESET_SYSTEM_LOCKS_H */
