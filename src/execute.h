/*-------------------------------------------------------------------------
 *
 * execute.h
 *	  What the rest of the extension may ask about a reset under way.
 *
 *-------------------------------------------------------------------------
 */
#ifndef RESET_SYSTEM_EXECUTE_H
#define RESET_SYSTEM_EXECUTE_H

#include "postgres.h"

/* The id of the reset running in this backend, or 0 (for rebuild steps). */
extern int64 rs_execute_current_reset(void);

#endif							/* RESET_SYSTEM_EXECUTE_H */
