/*-------------------------------------------------------------------------
 *
 * environment.h
 *	  The environment guard and the unlocks of protected environments.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_ENVIRONMENT_H
#define RESET_SYSTEM_ENVIRONMENT_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "internal.h"

typedef struct RsEnvStatus
{
	const char *name;
	bool		labelled;
	bool		protected;
	int64		unlock_id;		/* 0: no unlock in force */
	TimestampTz unlocked_until;
	char	   *unlocked_by;
} RsEnvStatus;

extern bool rs_env_labelled(void);
extern bool rs_env_is_protected(const char *env);
extern void rs_env_status(RsSession *s, RsEnvStatus *st, bool lock_row);
extern char *rs_env_describe(const RsEnvStatus *st);
extern bool rs_env_blocker(const RsEnvStatus *st, int *sqlstate, char **message,
						   char **detail, char **hint);
extern void rs_env_consume(RsSession *s, int64 unlock_id, int64 reset_id);

#endif							/* RESET_SYSTEM_ENVIRONMENT_H */
