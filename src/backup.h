/*-------------------------------------------------------------------------
 *
 * backup.h
 *	  Backups of the rows a reset deletes, and their retention.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_BACKUP_H
#define RESET_SYSTEM_BACKUP_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pg_list.h"

#include "internal.h"
#include "plan.h"

/* Settings */
extern bool rs_backup_default;
extern int	rs_backup_keep;
extern int	rs_purge_delay_s;

extern char *rs_backup_schema_name(int64 reset_id);
extern char *rs_backup_columns(Oid relid);
extern void rs_backup_take(RsSession *s, RsPlan *plan, int64 reset_id, List *sequences,
						   StringInfo report);
extern void rs_backup_retain(RsSession *s, StringInfo report);
extern char *rs_backup_schema_problem(RsSession *s, int64 reset_id, const char *stored, Oid *nspoid);

#endif							/* RESET_SYSTEM_BACKUP_H */
