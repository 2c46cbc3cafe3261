/*-------------------------------------------------------------------------
 *
 * reset_system.h
 *	  Settings and error codes shared by every module of reset_system.
 *
 * Module-specific types live in the header named for their module
 * (config.h, plan.h, ...).  This one holds only what nearly every file
 * needs: the settings and the SQLSTATEs the product raises.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_H
#define RESET_SYSTEM_H

#include "postgres.h"

#include "utils/elog.h"

#define RS_EXTENSION_NAME	"reset_system"
#define RS_INTERNAL_SCHEMA	"reset_system"
#define RS_CONFIRM_PHRASE	"RESET-EVERYTHING"
#define RS_ENV_UNSET		"unset"

/*
 * SQLSTATEs of our own, class "RS" (implementation-defined classes start
 * with a letter from I to Z).  Where a standard code says the same thing
 * (55P03 lock_not_available, 25006 read_only_sql_transaction, 2BP01
 * dependent_objects_still_exist, ...) we use the standard one instead.
 */
#define ERRCODE_RS_PHRASE_MISMATCH	MAKE_SQLSTATE('R','S','0','0','1')
#define ERRCODE_RS_PLAN_CHANGED		MAKE_SQLSTATE('R','S','0','0','2')
#define ERRCODE_RS_PURGE_FAILED		MAKE_SQLSTATE('R','S','0','0','4')
#define ERRCODE_RS_PURGE_TIMEOUT	MAKE_SQLSTATE('R','S','0','0','5')
#define ERRCODE_RS_ENV_UNLABELLED	MAKE_SQLSTATE('R','S','0','0','6')
#define ERRCODE_RS_ENV_PROTECTED	MAKE_SQLSTATE('R','S','0','0','7')
#define ERRCODE_RS_DISABLED			MAKE_SQLSTATE('R','S','0','0','8')
#define ERRCODE_RS_TOO_MANY_ROWS	MAKE_SQLSTATE('R','S','0','0','9')

/* Values of reset_system.mode */
typedef enum RsMode
{
	RS_MODE_TRUNCATE,			/* one TRUNCATE, small tables by DELETE */
	RS_MODE_DELETE				/* DELETE everything in foreign-key order */
} RsMode;

/* Settings, defined in reset_system.c */
extern char *rs_environment;
extern int	rs_lock_timeout_ms;
extern int	rs_mode;
extern int	rs_small_table_rows;
extern char *rs_protected_environments;
extern bool rs_allow_reset;
extern int	rs_max_rows;
extern bool rs_terminate_blockers;
extern char *rs_webhook_url;
extern bool rs_restart_identity;

extern const char *rs_mode_name(int mode);

#endif							/* RESET_SYSTEM_H */
